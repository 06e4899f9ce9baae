"""`graphspec run` with torch: plan, session, the loop, data loaders, checkpoints, the run
folder, results, plots, the screen."""
