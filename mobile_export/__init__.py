"""mobile_export."""
