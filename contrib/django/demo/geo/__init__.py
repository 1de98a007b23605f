"""Geometries a BBox reads (GeoNode keeps ``bbox_polygon`` in the layer's own SRID and
``ll_bbox_polygon`` in WGS84): installed only with SOLRSYNC_DEMO_GIS=1 (GDAL, GEOS, PostGIS or
SpatiaLite)."""
