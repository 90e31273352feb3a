"""The headless-browser tier for pages built by JavaScript: when to render (``decision``) and how (``browser``)."""
