"""Dateline's read side: rank passages for a query (Searcher) and serve them over HTTP (create_app)."""
