namespace FluxWeb.Provenance.Filters;

/// <summary>Scores a prompt; 0 = safe, 1 = certainly unsafe.</summary>
public interface IPromptClassifier
{
    double UnsafeProbability(string prompt);
}
