"""The site's build machinery: page execution (``pages``), the MkDocs hook (``execute``)."""
