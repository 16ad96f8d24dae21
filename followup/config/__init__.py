"""Loading and validating the owner's files under ``config/`` and ``templates/``."""
