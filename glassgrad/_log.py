"""glassgrad's messages to the person running it, through the standard ``logging`` module.

Library code logs to the ``glassgrad`` logger or a child of it (``get_logger("vision")`` is
``glassgrad.vision``); it never prints a message and never configures logging: the application
decides where messages go. The ``glassgrad`` command shows them on stderr, one line each
(``glassgrad.cli``). Without any configuration Python shows warnings and errors on stderr and
keeps informational messages quiet; ``logging.getLogger("glassgrad").setLevel(logging.INFO)`` with
a handler (``logging.basicConfig(level=logging.INFO)``) shows them too.
"""

import logging

logger = logging.getLogger("glassgrad")


def get_logger(name=None):
    """The logger ``glassgrad.<name>`` (``glassgrad`` itself without a name)."""
    return logger.getChild(name) if name else logger
