"""Full screens (``Screen``): the main screen and the deploy, logs, migrations, doctor and fly.toml screens."""
