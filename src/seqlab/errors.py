"""The one exception type for bad user input (config, data, checkpoint).

Its message is a single line that names the file, line or config key at fault and says what would fix
it; entry points print it without a traceback and exit with code 2.
"""


class SeqlabError(Exception):
    """Bad user input, reported as one line."""
