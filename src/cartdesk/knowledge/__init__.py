"""Knowledge base: articles, translations, search, and what the help center records."""
