"""Views: figures, tables, widgets and notebook helpers drawn from what the studies return."""
