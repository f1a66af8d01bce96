"""The application core: the one object the web app and every command build on."""
