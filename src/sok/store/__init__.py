"""Where passages live: the SQLite store, the embedding cache, and the lexical and vector indexes derived from it."""
