from django.contrib.gis.db import models


class Area(models.Model):
    title = models.CharField(max_length=100)
    bbox_polygon = models.PolygonField(srid=3857, null=True)  # the layer's native SRID: reprojected
    ll_bbox_polygon = models.PolygonField(srid=4326, null=True)
    footprint = models.MultiPolygonField(srid=4326, null=True)
    centre = models.PointField(srid=4326, null=True)
