using System.Globalization;
using System.Text.Json.Nodes;
using Acornima;
using Acornima.Ast;

namespace FluxWeb.Inference.Classifiers;

/// <summary>A JavaScript file that does not hold the literal we look for, or holds one we cannot read as data.</summary>
public sealed class JsLiteralException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads data written as JavaScript object literals out of published bundles (TensorFlow.js models
/// wrapped as browserify modules, ES modules exporting a constant). The file is parsed by a real
/// JavaScript parser, never evaluated: only literals become values (objects with bare or quoted keys,
/// arrays, strings, numbers, booleans, null, and the minifier's <c>!0</c>/<c>!1</c>, <c>-x</c>,
/// <c>void 0</c>); anything else (a call, a variable) is refused with its position.
/// </summary>
public static class JsLiterals
{
    /// <summary>The value assigned to <c>….exports</c> (CommonJS, browserify, UMD wrappers); the first such assignment of an object or string.</summary>
    public static JsonNode? ModuleExports(string source, string fileName)
    {
        var program = Parse(source, fileName, module: false);
        foreach (var node in program.DescendantNodes())
        {
            if (node is AssignmentExpression { Left: MemberExpression { Computed: false, Property: Identifier { Name: "exports" } }, Right: var right }
                && right is ObjectExpression or StringLiteral)
            {
                return ToJson(right, fileName);
            }
        }

        throw new JsLiteralException($"{fileName}: no object or string is assigned to module.exports.");
    }

    /// <summary>The literal a variable is declared with (<c>export var NAME = {…}</c>, <c>const NAME = […]</c>).</summary>
    public static JsonNode? Variable(string source, string fileName, string name)
    {
        var program = Parse(source, fileName, module: true);
        foreach (var node in program.DescendantNodes())
        {
            if (node is VariableDeclarator { Id: Identifier id, Init: { } init } && id.Name == name)
            {
                return ToJson(init, fileName);
            }
        }

        throw new JsLiteralException($"{fileName}: declares no variable '{name}'.");
    }

    private static Acornima.Ast.Program Parse(string source, string fileName, bool module)
    {
        try
        {
            var parser = new Parser();
            return module ? parser.ParseModule(source, fileName) : parser.ParseScript(source, fileName);
        }
        catch (ParseErrorException ex)
        {
            throw new JsLiteralException($"{fileName}: not valid JavaScript (line {ex.LineNumber}, column {ex.Column}: {ex.Message}).", ex);
        }
    }

    private static JsonNode? ToJson(Node node, string fileName)
    {
        switch (node)
        {
            case ObjectExpression obj:
            {
                var result = new JsonObject();
                foreach (var member in obj.Properties)
                {
                    if (member is not Property { Computed: false } property || property is { Kind: not PropertyKind.Init })
                    {
                        throw Unsupported(member, fileName, "an object member that is not a plain key: value pair");
                    }

                    var key = property.Key switch
                    {
                        Identifier identifier => identifier.Name,
                        StringLiteral text => text.Value,
                        NumericLiteral number => NumberKey(number.Value),
                        _ => throw Unsupported(property.Key, fileName, "an object key that is not a name, string or number"),
                    };
                    // As in JavaScript, a repeated key keeps its last value.
                    result[key] = ToJson(property.Value, fileName);
                }

                return result;
            }

            case ArrayExpression array:
            {
                var result = new JsonArray();
                foreach (var element in array.Elements)
                {
                    result.Add(element is null ? null : ToJson(element, fileName));
                }

                return result;
            }

            case StringLiteral text:
                return JsonValue.Create(text.Value);
            case NumericLiteral number:
                return Number(number.Value, number, fileName);
            case BooleanLiteral boolean:
                return JsonValue.Create(boolean.Value);
            case NullLiteral:
                return null;
            case Identifier { Name: "undefined" }:
                return null;
            case UnaryExpression { Operator: Operator.LogicalNot, Argument: var argument }:
                return JsonValue.Create(!Truthy(ToJson(argument, fileName)));
            case UnaryExpression { Operator: Operator.UnaryNegation, Argument: NumericLiteral negated }:
                return Number(-negated.Value, negated, fileName);
            case UnaryExpression { Operator: Operator.UnaryPlus, Argument: NumericLiteral positive }:
                return Number(positive.Value, positive, fileName);
            case UnaryExpression { Operator: Operator.Void, Argument: NumericLiteral }:
                return null;
            case ParenthesizedExpression parenthesized:
                return ToJson(parenthesized.Expression, fileName);
            default:
                throw Unsupported(node, fileName, $"a {node.Type} where a literal value was expected");
        }
    }

    private static JsonValue Number(double value, Node node, string fileName) =>
        double.IsFinite(value) ? JsonValue.Create(value) : throw Unsupported(node, fileName, "a number that is not finite");

    private static string NumberKey(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static bool Truthy(JsonNode? value) => value switch
    {
        null => false,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<double>(out var d) => d != 0 && !double.IsNaN(d),
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0,
        _ => true,
    };

    private static JsLiteralException Unsupported(Node node, string fileName, string what) =>
        new($"{fileName}: line {node.Location.Start.Line}, column {node.Location.Start.Column}: {what} (only literal data is read, nothing is evaluated).");
}
