"""Running the article's experiment: seeding, the model, worker processes fresh or warm, the audit."""
