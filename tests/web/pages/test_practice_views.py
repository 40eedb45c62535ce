"""The practice loop's pages through Django's test client: who may open them (a non-member gets
the same 404 as for something that never existed), and what their forms do."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from domain.spaces import services
from domain.spaces.models import Membership, Notification, Reply
from domain.videos.models import Video

PASSWORD = "a-long practice passphrase"


@pytest.fixture
def coach(db) -> User:
    return User.objects.create_user("coach", password=PASSWORD)


@pytest.fixture
def student(db) -> User:
    return User.objects.create_user("student", password=PASSWORD)


@pytest.fixture
def stranger(db) -> User:
    return User.objects.create_user("stranger", password=PASSWORD, is_staff=True)


@pytest.fixture
def space(coach, student):
    """The coach's studio, which the student joined; the stranger (staff, even) is not in it."""
    space = services.space_create(owner=coach, name="Tuesday strings")
    services.space_join(user=student, code=space.invite_code)
    return space


def _main(response) -> str:
    # The header's logout form carries a fresh CSRF token on every page: compare what is in <main>.
    return re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)


def _video(owner: User, title: str) -> Video:
    return Video.objects.create(owner=owner, title=title, status=Video.Status.READY, duration=10.0)


@pytest.fixture
def exercise(space, coach):
    demo = _video(coach, "Bow hold")
    return services.exercise_create(space_id=space.pk, author=coach, title="Open strings",
                                    instructions="Slowly. See https://example.com/bow <b>now</b>", video_id=demo.id)


def test_non_members_get_the_404_of_a_missing_space(client, space, exercise, stranger):
    client.force_login(stranger)
    for url in (f"/spaces/{space.pk}/", f"/exercises/{exercise.pk}/"):
        hidden = client.get(url)
        assert hidden.status_code == 404
    assert _main(client.get("/spaces/999999/")) == _main(client.get(f"/spaces/{space.pk}/"))
    assert client.post(f"/exercises/{exercise.pk}/replies/", {"video": "x"}).status_code == 404
    assert client.post(f"/spaces/{space.pk}/exercises/", {"title": "Mine"}).status_code == 404
    assert client.post(f"/spaces/{space.pk}/members/student/", {"action": "remove"}).status_code == 404
    assert Membership.objects.filter(space=space, user__username="student").exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, space, exercise):
    for url in ("/spaces/", f"/spaces/{space.pk}/", f"/exercises/{exercise.pk}/", "/notifications/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_a_member_sees_the_exercises_but_no_coach_tools(client, space, exercise, student):
    client.force_login(student)
    page = client.get(f"/spaces/{space.pk}/").content.decode()
    assert "Open strings" in page
    assert space.invite_code not in page and "Post an exercise" not in page and "Make coach" not in page
    assert client.post(f"/spaces/{space.pk}/exercises/", {"title": "Mine"}).status_code == 302
    assert space.exercises.count() == 1


def test_the_coach_sees_the_invite_link_and_posts_an_exercise(client, space, coach):
    client.force_login(coach)
    demo = _video(coach, "Scale demo")
    page = client.get(f"/spaces/{space.pk}/").content.decode()
    assert f"/join/{space.invite_code}/" in page and "Scale demo" in page
    response = client.post(f"/spaces/{space.pk}/exercises/", {"title": "Scales", "instructions": "", "video": demo.id})
    exercise = space.exercises.get(title="Scales")
    assert response.status_code == 302 and response["Location"] == f"/exercises/{exercise.pk}/"
    assert exercise.video_id == demo.id


def test_an_exercise_cannot_take_someone_elses_video(client, space, coach, student):
    client.force_login(coach)
    theirs = _video(student, "Not yours")
    response = client.post(f"/spaces/{space.pk}/exercises/", {"title": "Scales", "video": theirs.id}, follow=True)
    assert "Select a valid choice" in response.content.decode()
    assert not space.exercises.exists()


def test_instructions_are_plain_text_with_clickable_links(client, exercise, student):
    client.force_login(student)
    page = client.get(f"/exercises/{exercise.pk}/").content.decode()
    assert '<a href="https://example.com/bow"' in page
    assert "&lt;b&gt;now&lt;/b&gt;" in page and "<b>now</b>" not in page


def test_a_member_replies_and_the_coach_sees_who_has_answered(client, exercise, student, coach):
    take = _video(student, "My open strings")
    client.force_login(student)
    response = client.post(f"/exercises/{exercise.pk}/replies/", {"video": take.id, "note": "First go"})
    assert response.status_code == 302
    assert Reply.objects.get().video_id == take.id
    client.force_login(coach)
    page = client.get(f"/exercises/{exercise.pk}/")
    assert page.context["answered"] == ["student"] and page.context["waiting"] == []
    assert "My open strings" in page.content.decode()
    compare = f"/compare/?a={exercise.video_id}&amp;b={take.id}"
    assert compare in page.content.decode(), "each reply opens beside the demonstration"


def test_replies_are_the_authors_and_the_coaches_unless_shown_to_all(client, space, exercise, student, coach):
    other = User.objects.create_user("other", password=PASSWORD)
    services.space_join(user=other, code=space.invite_code)
    services.reply_create(exercise=exercise, author=student, video_id=_video(student, "Student take").id)
    client.force_login(other)
    assert "Student take" not in client.get(f"/exercises/{exercise.pk}/").content.decode()
    exercise.replies_visible = True
    exercise.save()
    assert "Student take" in client.get(f"/exercises/{exercise.pk}/").content.decode()


def test_joining_by_the_invite_link(client, space, db):
    newcomer = User.objects.create_user("newcomer", password=PASSWORD)
    url = f"/join/{space.invite_code}/"
    signed_out = client.get(url)
    assert signed_out.status_code == 200
    assert f"/accounts/login/?next={url}" in signed_out.content.decode()
    client.force_login(newcomer)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/spaces/{space.pk}/"
    assert client.get(url).status_code == 302  # twice is harmless
    assert Membership.objects.filter(space=space, user=newcomer).count() == 1
    assert client.get("/join/no-such-code/").status_code == 404


def test_coaches_promote_and_remove_and_the_last_coach_stays(client, space, coach, student):
    client.force_login(coach)
    client.post(f"/spaces/{space.pk}/members/student/", {"action": "promote"})
    assert Membership.objects.get(space=space, user=student).role == "coach"
    client.post(f"/spaces/{space.pk}/members/student/", {"action": "remove"})
    assert not Membership.objects.filter(space=space, user=student).exists()
    response = client.post(f"/spaces/{space.pk}/members/coach/", {"action": "remove"}, follow=True)
    assert "A space needs a coach" in response.content.decode()
    assert Membership.objects.filter(space=space, user=coach).exists()


def test_creating_a_space_makes_you_its_coach(client, coach):
    client.force_login(coach)
    response = client.post("/spaces/", {"name": "Choir"})
    mine = Membership.objects.get(user=coach, space__name="Choir")
    assert response["Location"] == f"/spaces/{mine.space_id}/" and mine.role == "coach"
    assert "Choir" in client.get("/spaces/").content.decode()


def test_the_header_counts_unread_notifications_and_opening_one_reads_it(client, space, coach):
    client.force_login(coach)
    page = client.get("/").content.decode()
    assert 'id="unread-count">1<' in page  # the student joined
    note = Notification.objects.get(user=coach)
    response = client.get(f"/notifications/{note.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/spaces/{space.pk}/"
    note.refresh_from_db()
    assert note.read and "unread-count" not in client.get("/").content.decode()


def test_someone_elses_notification_is_a_404(client, space, student):
    client.force_login(student)
    assert client.get(f"/notifications/{Notification.objects.get().pk}/").status_code == 404


def test_mark_all_read(client, space, coach):
    client.force_login(coach)
    assert "Mark all read" in client.get("/notifications/").content.decode()
    client.post("/notifications/read/")
    assert not Notification.objects.filter(user=coach, read=False).exists()


def test_the_watch_page_has_the_comment_panel_for_signed_in_viewers(client, coach):
    video = _video(coach, "Etude")
    video.visibility = Video.Visibility.PUBLIC
    video.save()
    _video(coach, "Another take")
    client.force_login(coach)
    page = client.get(f"/videos/{video.id}/").content.decode()
    assert 'id="comment-form"' in page and "Another take" in page and 'id="comment-markers"' in page
    client.logout()
    page = client.get(f"/videos/{video.id}/").content.decode()
    assert 'id="comment-form"' not in page and "to comment" in page
