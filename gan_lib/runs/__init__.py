"""The runs wing: a run folder and everything it holds (the checkpoint, samples, reports), the named recipes, and
the command line that trains, generates and evaluates."""
