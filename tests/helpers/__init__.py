"""What several test modules share: oracles, case tables, run helpers, file makers."""
