"""Dateline's write side: read articles, split them into passages, embed them, write the index directory."""
