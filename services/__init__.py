"""The platform's services. Each one owns its folder and its database; none imports another."""
