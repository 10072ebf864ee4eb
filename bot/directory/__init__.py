"""Service directory: HSDS-style tables, import/export, gazetteer and nearest-service search."""
