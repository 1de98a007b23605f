"""The cells of issue 19's matrix (shape x write path x capture mode) that tests/test_shapes.py and
tests/test_geonode.py leave out, as one table: a child's row deleted by raw SQL, a child's own
column by ``update()``, a generic row moved to another object, ``bulk_create`` of generic rows,
rows on a path deleted (a user, a category, a region: SET_NULL and cascades) or renamed (a region,
a category), membership and tag tables written by raw SQL, a parent-held document id edited. Run on SQLite and on PostgreSQL
(SOLRSYNC_DEMO_DB=postgres).

With triggers, every write is recorded and, drained, leaves Solr equal to what the database
builds now, field by field. With signals, ``save()``/``delete()`` and m2m changes are too; the
writes no signal sees (``update()``, ``bulk_create``, raw SQL) record nothing, exactly as the
README's capture table says: Solr drifts until ``reindex --verify --fix`` (here ``verify``),
which finds the drift and mends it."""
import uuid
from types import SimpleNamespace

import pytest

from conftest import use_capture
from test_shapes import sql, zoo  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django


def world():
    from django.contrib.auth.models import User
    from zoo.models import (Article, Bar, Chapter, Comment, Layer, Org, Photo, Post, Profile, Region, Restaurant,
                            TopicCategory)
    ana, bob = User.objects.create(username="ana"), User.objects.create(username="bob")
    org = Org.objects.create(name="OSGeo")
    Profile.objects.create(user=ana, org=org)
    article = Article.objects.create(title="Maps", owner=ana)
    Chapter.objects.create(article=article, heading="One")
    Article.objects.create(title="Atlas", owner=bob)
    restaurant = Restaurant.objects.create(name="Luigi", city="Rome")
    bar = Bar.objects.create(name="Moe's", happy_hour=True)
    post, other = Post.objects.create(title="Hello"), Post.objects.create(title="Other")
    comment = Comment.objects.create(content_object=post, text="first")
    post.tags.add("maps", "osm")
    photo = Photo.objects.create(label="Sunset", width=800)
    category = TopicCategory.objects.create(identifier="transportation")
    region = Region.objects.create(code="DEU", name="Germany")
    layer = Layer.objects.create(title="Roads", owner=ana, category=category, store="osm")
    layer.regions.add(region)
    layer.keywords.add("roads")
    return SimpleNamespace(**locals())


def _m(name):
    from taggit.models import Tag
    from zoo import models
    return Tag if name == "Tag" else getattr(models, name)


SAVE, UNSEEN = True, False  # seen by signals (save, delete, m2m) or not (update, bulk_create, raw SQL)
# (shape: write) -> (the pipelines whose documents it changes, seen by signals?, the write)
WRITES = {
    "child reading its parent: the child's row deleted by raw SQL": (
        ["restaurants"], UNSEEN, lambda w: sql("DELETE FROM zoo_restaurant WHERE place_ptr_id = %s", [w.restaurant.pk])),
    "child reading its parent: update() on the parent": (
        ["restaurants", "places", "bigplaces"], UNSEEN,
        lambda w: _m("Place").objects.filter(pk=w.restaurant.pk).update(name="Parent update()")),
    "parent reading a child: the child delete()d": (["places", "bigplaces"], SAVE, lambda w: w.bar.delete()),
    "parent reading a child: update() of the child's own column": (
        ["places"], UNSEEN, lambda w: _m("Bar").objects.update(happy_hour=False)),
    "deep path: the user at its start delete()d (profile cascades, SET_NULL)": (
        ["articles", "zoo_layers"], SAVE, lambda w: w.ana.delete()),
    "deep path: the profile moved by raw SQL": (
        ["articles"], UNSEEN, lambda w: sql("UPDATE zoo_profile SET org_id = %s",
                                            [_m("Org").objects.create(name="LocationTech").pk])),
    "reverse foreign key: a row inserted by raw SQL": (
        ["articles"], UNSEEN, lambda w: sql("INSERT INTO zoo_chapter (article_id, heading) VALUES (%s, 'Raw')",
                                            [w.article.pk])),
    "generic relation: a comment moved to another post by save()": (
        ["posts", "comments"], SAVE, lambda w: (setattr(w.comment, "content_object", w.other), w.comment.save())),
    "generic relation: a comment moved by update()": (
        ["posts", "comments"], UNSEEN, lambda w: _m("Comment").objects.update(object_id=w.other.pk)),
    "generic relation: bulk_create": (
        ["posts"], UNSEEN, lambda w: _m("Comment").objects.bulk_create([_m("Comment")(content_object=w.other, text="bulk")])),
    "taggit's generic items: a tag renamed by raw SQL": (
        ["posts"], UNSEEN, lambda w: sql("UPDATE taggit_tag SET name = 'MAPS' WHERE name = 'maps'")),
    "taggit's generic items: an item deleted by raw SQL": (
        ["posts"], UNSEEN, lambda w: sql("DELETE FROM taggit_taggeditem WHERE object_id = %s", [w.post.pk])),
    "generic foreign key: the target's column by raw SQL": (
        ["comments"], UNSEEN, lambda w: sql("UPDATE zoo_post SET title = 'Raw'")),
    "polymorphic child: update() of its own column": (
        ["photos"], UNSEEN, lambda w: _m("Photo").objects.update(width=1)),
    "polymorphic child: raw SQL on its own table": (
        ["photos"], UNSEEN, lambda w: sql("UPDATE zoo_photo SET width = 2")),
    # the triggers-only cells of test_shapes/test_geonode, here in both modes
    "child reading its parent: raw SQL on the parent's table": (
        ["restaurants", "places", "bigplaces"], UNSEEN, lambda w: sql("UPDATE zoo_place SET city = 'Raw'")),
    "proxy: bulk_create": (["bigplaces", "places"], UNSEEN, lambda w: _m("Place").objects.bulk_create([_m("Place")(name="Bulk")])),
    "reverse foreign key: a row moved by update()": (
        ["articles"], UNSEEN, lambda w: _m("Chapter").objects.update(article=_m("Article").objects.get(title="Atlas"))),
    "deep path: the row three relations away renamed by update()": (
        ["articles"], UNSEEN, lambda w: _m("Org").objects.update(name="Eclipse")),
    "generic relation: a comment edited by update()": (
        ["posts", "comments"], UNSEEN, lambda w: _m("Comment").objects.update(text="update()")),
    "taggit's generic items: a tag renamed by update()": (
        ["posts"], UNSEEN, lambda w: _m("Tag").objects.filter(name="osm").update(name="OSM")),
    "generic foreign key: the target's column by update()": (
        ["comments"], UNSEEN, lambda w: _m("Post").objects.update(title="update()")),
    "polymorphic child: update() on the parent": (
        ["photos"], UNSEEN, lambda w: _m("Asset").objects.non_polymorphic().update(label="update()")),
    "GeoNode: the owner renamed by raw SQL": (
        ["zoo_layers"], UNSEEN, lambda w: sql("UPDATE auth_user SET username = 'raw' WHERE id = %s", [w.ana.pk])),
    "GeoNode: a keyword renamed by update()": (
        ["zoo_layers"], UNSEEN, lambda w: _m("Tag").objects.filter(name="roads").update(
            name="Roads")),
    "GeoNode: update() on the child (the parent's and its own columns)": (
        ["zoo_layers"], UNSEEN, lambda w: _m("Layer").objects.update(title="update()", store="postgis")),
    "GeoNode: a region delete()d": (["zoo_layers"], SAVE, lambda w: w.region.delete()),
    "GeoNode: the category delete()d (SET_NULL)": (["zoo_layers"], SAVE, lambda w: w.category.delete()),
    "GeoNode: a region's membership deleted by raw SQL": (
        ["zoo_layers"], UNSEEN, lambda w: sql("DELETE FROM zoo_resourcebase_regions")),
    "GeoNode: a keyword's item deleted by raw SQL": (
        ["zoo_layers"], UNSEEN, lambda w: sql("DELETE FROM zoo_taggedcontentitem")),
    "GeoNode: a region's membership inserted by raw SQL": (
        ["zoo_layers"], UNSEEN, lambda w: sql("INSERT INTO zoo_resourcebase_regions (resourcebase_id, region_id) "
                                              "VALUES (%s, %s)", [w.layer.pk, _m("Region").objects.create(
                                                  code="FRA", name="France").pk])),
    "GeoNode: a region renamed by update()": (
        ["zoo_layers"], UNSEEN, lambda w: _m("Region").objects.update(name="Deutschland")),
    "GeoNode: a region renamed by raw SQL": (
        ["zoo_layers"], UNSEEN, lambda w: sql("UPDATE zoo_region SET name = 'Raw'")),
    "GeoNode: the category renamed by save()": (
        ["zoo_layers"], SAVE, lambda w: (setattr(w.category, "identifier", "roads"), w.category.save())),
    "GeoNode: the category renamed by update()": (
        ["zoo_layers"], UNSEEN, lambda w: _m("TopicCategory").objects.update(identifier="update()")),
    "GeoNode: the parent-held id (uuid) edited by update()": (
        ["zoo_layers"], UNSEEN,
        lambda w: _m("ResourceBase").objects.filter(pk=w.layer.pk).update(uuid=str(uuid.uuid4()))),
}


@pytest.mark.parametrize("capture", ["triggers", "signals"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_write_path(zoo, write, capture):  # noqa: F811 (the fixture)
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.verify import verify
    use_capture(capture)
    pipelines, seen_by_signals, fn = WRITES[write]
    w = world()
    before = {name: zoo.assert_in_step(name) for name in pipelines}
    zoo.clear()
    fn(w)
    if capture == "triggers" or seen_by_signals:
        assert all(zoo.pending(name) for name in pipelines), zoo.pending()
        for name in pipelines:
            assert zoo.expected(name) != before[name], "%s: the write changed nothing of %s" % (write, name)
            zoo.assert_in_step(name)
        return
    # signals: not recorded, not woken; Solr keeps the old documents until verify finds the drift
    assert [zoo.pending(name) for name in pipelines] == [[] for _ in pipelines]
    assert not set(pipelines) & zoo.woken()
    for name in pipelines:
        zoo.drain(name)
        assert zoo.in_solr(name) == before[name] != zoo.expected(name)
        drift = verify(get_syncer(), name, fix=True)
        assert sum(drift.counts.values()), (name, drift.counts)
        zoo.assert_in_step(name)
