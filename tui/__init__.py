"""mltui's Textual app. `store/` holds the data layer; nothing here reads files directly."""
