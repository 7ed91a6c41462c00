// Every test here needs the engine: skipped, saying what to install, where its binaries are missing.
[assembly: Deflake.Testing.RequiresPostgres]
