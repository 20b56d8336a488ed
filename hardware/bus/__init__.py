"""Motor-bus codecs (pure byte builders/parsers) and the serial transport that uses them."""
