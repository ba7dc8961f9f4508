using FluxWeb.Host.Cli;

// `fluxweb` with no arguments (or `serve`) runs the web app; other subcommands are admin and script tools.
return await FluxWebCli.RunAsync(args);
