"""The console's pages, one module per subject; each route renders a template or its JSON twin."""
