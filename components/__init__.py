"""Functions returning Dash components and figures. No data access, no statistics."""
