"""Realistic demo layers: real-world extents, GeoNode topic categories, a few layers crossing the
antimeridian and a few with broken bounding boxes (as harvested metadata has)."""
import datetime as dt
import random

# (place, region code, region name, x0, x1, y0, y1)
PLACES = [
    ("Berlin", "DEU", "Germany", 13.08, 13.76, 52.33, 52.68),
    ("Paris", "FRA", "France", 2.22, 2.47, 48.81, 48.90),
    ("London", "GBR", "United Kingdom", -0.51, 0.33, 51.28, 51.69),
    ("Madrid", "ESP", "Spain", -3.89, -3.52, 40.31, 40.56),
    ("Rome", "ITA", "Italy", 12.23, 12.86, 41.65, 42.10),
    ("Nairobi", "KEN", "Kenya", 36.65, 37.10, -1.44, -1.16),
    ("Lagos", "NGA", "Nigeria", 3.10, 3.70, 6.39, 6.70),
    ("Cairo", "EGY", "Egypt", 31.10, 31.60, 29.90, 30.20),
    ("Cape Town", "ZAF", "South Africa", 18.30, 18.95, -34.36, -33.70),
    ("Lima", "PER", "Peru", -77.20, -76.80, -12.30, -11.80),
    ("Peru", "PER", "Peru", -81.33, -68.65, -18.35, -0.04),
    ("Bogota", "COL", "Colombia", -74.22, -73.99, 4.47, 4.84),
    ("Sao Paulo", "BRA", "Brazil", -46.83, -46.36, -24.01, -23.36),
    ("Mexico City", "MEX", "Mexico", -99.36, -98.94, 19.05, 19.59),
    ("New York", "USA", "United States", -74.26, -73.70, 40.49, 40.92),
    ("Alaska", "USA", "United States", -179.15, -129.98, 51.21, 71.44),
    ("Vancouver", "CAN", "Canada", -123.27, -123.02, 49.20, 49.32),
    ("Tokyo", "JPN", "Japan", 139.56, 139.92, 35.52, 35.82),
    ("Jakarta", "IDN", "Indonesia", 106.69, 106.97, -6.37, -6.08),
    ("Manila", "PHL", "Philippines", 120.95, 121.13, 14.39, 14.78),
    ("Kathmandu", "NPL", "Nepal", 85.19, 85.52, 27.57, 27.82),
    ("Nepal", "NPL", "Nepal", 80.06, 88.20, 26.35, 30.45),
    ("Sydney", "AUS", "Australia", 150.52, 151.34, -34.12, -33.58),
    ("Haiti", "HTI", "Haiti", -74.48, -71.62, 18.02, 20.09),
    ("Iceland", "ISL", "Iceland", -24.55, -13.49, 63.29, 66.57),
    ("Svalbard", "NOR", "Norway", 10.49, 33.64, 76.44, 80.83),
    ("Antarctic Peninsula", "ATA", "Antarctica", -75.0, -55.0, -75.0, -60.0),
]
# extents that cross the antimeridian (x0 > x1 as Solr expects them)
DATELINE = [
    ("Fiji", "FJI", "Fiji", 177.0, -178.0, -21.0, -12.0),
    ("Chukotka", "RUS", "Russia", 160.0, -169.0, 62.0, 71.0),
    ("Aleutian Islands", "USA", "United States", 172.0, -164.0, 51.0, 55.5),
    ("Kiribati", "KIR", "Kiribati", 169.5, -150.2, -11.5, 4.7),
]
THEMES = [
    ("Roads", "transportation", ["roads", "osm", "transport"]),
    ("Rivers", "inlandWaters", ["rivers", "hydrography"]),
    ("Land cover", "imageryBaseMapsEarthCover", ["landcover", "satellite"]),
    ("Flood risk", "environment", ["flood", "risk", "hazard"]),
    ("Population density", "society", ["population", "census"]),
    ("Elevation model", "elevation", ["dem", "srtm"]),
    ("Administrative boundaries", "boundaries", ["admin", "boundaries"]),
    ("Health facilities", "health", ["health", "hospitals"]),
    ("Crop types", "farming", ["agriculture", "crops"]),
    ("Coral reefs", "oceans", ["reefs", "marine"]),
]
USERS = ["admin", "ana", "bo", "cyril", "dana"]


def jitter(rng, box):
    x0, x1, y0, y1 = box
    dx, dy = (abs(x1 - x0) or 1) * 0.05, (y1 - y0) * 0.05
    return (round(x0 + rng.uniform(-dx, dx), 6), round(x1 + rng.uniform(-dx, dx), 6),
            round(max(-90, y0 + rng.uniform(-dy, dy)), 6), round(min(90, y1 + rng.uniform(-dy, dy)), 6))


def generate(count, seed=42):
    """-> a list of dicts, one per layer: fields plus 'keywords', 'region', 'owner', 'category'."""
    rng = random.Random(seed)
    start = dt.datetime(2012, 1, 1, tzinfo=dt.timezone.utc)
    out = []
    for i in range(count):
        if i % 97 == 5:
            place = rng.choice(DATELINE)
        else:
            place = rng.choice(PLACES)
        name, code, region, *box = place
        theme, category, words = rng.choice(THEMES)
        x0, x1, y0, y1 = box if place in DATELINE else jitter(rng, box)
        bad = i % 211 == 7
        if bad:  # harvested metadata: latitudes past the pole, a swapped or a missing corner
            x0, x1, y0, y1 = rng.choice([(x0, x1, y0, 95.0 + i % 30), (x0, x1, None, y1), (x1, x0 - 400, y0, y1)])
        year = 2012 + i % 12
        out.append({
            "name": "%s_%s_%d" % (theme.lower().replace(" ", "_"), name.lower().replace(" ", "_"), i),
            "title": "%s of %s %d" % (theme, name, year),
            "abstract": "%s for %s (%s), survey of %d. Source: demo generator; layer %d."
                        % (theme, name, region, year, i),
            "bbox_x0": x0, "bbox_x1": x1, "bbox_y0": y0, "bbox_y1": y1,
            "category": category, "region": (code, region),
            "keywords": words[: 1 + i % len(words)],
            "owner": USERS[i % len(USERS)],
            "date": start + dt.timedelta(days=(i * 37) % 4300, seconds=i),
            "is_published": i % 50 != 3,
        })
    return out
