using HealthMate.Backup.Cli;

return await Commands.RunAsync(args, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
