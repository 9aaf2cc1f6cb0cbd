"""Views of the main screen: one ``Pane`` subclass per view (apps, machines, secrets, …)."""
