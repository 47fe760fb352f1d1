"""Build-time machinery of the site: page execution (``pages``) and the MkDocs hook (``execute``)."""
