"""Small pieces the pages share."""
