"""What a user on a phone (390 px wide) and a keyboard user see: the header, the menu, tables, focus."""

import pytest
from playwright.sync_api import expect

from app.models import Role

PHONE = {"width": 390, "height": 800}


@pytest.fixture
def on_a_phone(page):
    page.set_viewport_size(PHONE)
    return page


def test_the_header_is_short_and_the_user_menu_opens_on_screen(on_a_phone, sign_in, make_user):
    page = on_a_phone
    sign_in(make_user(Role.ADMIN), then="/users")
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] < 200  # the admin's nine links included; it took 280 px
    page.click("details.dropdown summary")
    menu = page.locator("details.dropdown ul").bounding_box()
    assert menu["x"] >= 0 and menu["x"] + menu["width"] <= PHONE["width"]
    expect(page.locator("details.dropdown")).to_contain_text("Sign out")


def test_tables_become_cards_with_readable_names(on_a_phone, sign_in, make_user):
    page = on_a_phone
    make_user(Role.SALES, display_name="Alexandra Longname")
    sign_in(make_user(Role.ADMIN), then="/users")
    name = page.locator("td", has_text="Alexandra Longname")
    line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
    assert name.bounding_box()["height"] < 2 * line  # one line, not a character a line
    box = page.locator("table").bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"]  # nothing off screen


def test_keyboard_focus_is_visible_on_links_and_buttons(page, sign_in, make_user):
    sign_in(make_user(Role.SUPERVISOR), then="/customers/")
    for selector in ("a[href='/customers/new']", "nav .nav-links a"):
        page.locator(selector).first.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focus by keyboard, as :focus-visible requires
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none"), selector


def test_what_came_of_assigning_shows_where_the_ticking_happened(on_a_phone, sign_in, make_user, make_customer):
    page = on_a_phone
    make_user(Role.SALES, display_name="接手的")
    for number in range(25):
        make_customer(name=f"待分配{number:02d}")
    sign_in(make_user(Role.SUPERVISOR), then="/assignment/?sort=name")
    last = page.get_by_label("待分配24")
    last.scroll_into_view_if_needed()

    page.get_by_role("button", name="Assign the ticked customers").click()  # nobody chosen yet
    expect(page.locator("#assign-owner-error")).to_be_in_viewport()

    page.get_by_label("待分配24").check()
    page.locator("#assign-owner").select_option(label="接手的")
    page.get_by_role("button", name="Assign the ticked customers").click()
    message = page.locator(".assign-panel .flash")
    expect(message).to_contain_text("1 customer assigned to 接手的")
    expect(message).to_be_in_viewport()
    expect(page.get_by_label("待分配24")).to_be_in_viewport()  # the list stayed where it was
