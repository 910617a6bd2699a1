"""Reading HTML: its visible text, sectioned by its headings as Markdown is."""

from __future__ import annotations

from app.ingestion.readers import HTML, parse
from tests.support.readers import all_text, headings


def test_html_title_comes_from_the_title_element() -> None:
    html = b"<html><head><title>Page Title</title></head><body><h1>Heading</h1><p>x</p></body>"

    document = parse("page.html", html)

    assert document.title == "Page Title"
    assert document.media_type == HTML


def test_html_without_a_title_element_is_titled_by_its_first_h1() -> None:
    html = b"<body><p>Lead.</p><h2>Aside</h2><p>y</p><h1>Main Heading</h1><p>z</p></body>"

    assert parse("page.htm", html).title == "Main Heading"


def test_html_invisible_elements_never_reach_any_section() -> None:
    html = b"""<html><head><title>T</title><style>.styletoken { color: red }</style>
    <script>var scripttoken = 1;</script></head>
    <body>
      <nav><a href="/">navtoken home</a></nav>
      <noscript>noscripttoken enable JavaScript</noscript>
      <template><p>templatetoken</p></template>
      <h1>Visible</h1>
      <p>Visible words.</p>
      <script>console.log("bodyscripttoken")</script>
    </body></html>"""

    document = parse("page.html", html)

    text = all_text(document)
    assert "Visible words." in text
    for token in ("styletoken", "scripttoken", "navtoken", "noscripttoken", "templatetoken"):
        assert token not in text


def test_html_headings_h1_to_h3_give_the_heading_path() -> None:
    html = b"""<body>
      <h1>Guide</h1><p>Intro.</p>
      <h2>Setup</h2><p>Install.</p>
      <h3>Linux</h3><p>Use apt.</p>
      <h2>Usage</h2><p>Ask.</p>
    </body>"""

    document = parse("guide.html", html)

    assert [(s.heading, s.text) for s in document.sections] == [
        ("Guide", "Intro."),
        ("Guide > Setup", "Install."),
        ("Guide > Setup > Linux", "Use apt."),
        ("Guide > Usage", "Ask."),
    ]


def test_html_inline_elements_do_not_break_a_sentence() -> None:
    html = b'<body><p>Read the <a href="/install">install guide</a> <b>before</b> you start.</p>'

    document = parse("page.html", html)

    assert document.sections[0].text == "Read the install guide before you start."


def test_html_source_line_breaks_inside_a_paragraph_do_not_break_a_sentence() -> None:
    # Browsers render whitespace in a paragraph, newlines included, as one space; pretty-printed
    # HTML wraps long paragraphs, often inside inline elements.
    html = b"""<body>
      <p>Read the <a href="/install">
        install guide</a> before <b>you
        start</b>.</p>
    </body>"""

    document = parse("page.html", html)

    assert document.sections[0].text == "Read the install guide before you start."


def test_html_table_cells_keep_their_text_apart() -> None:
    html = b"""<body><table>
      <tr><th>Setting</th><th>Default</th></tr>
      <tr><td>chunk_size</td><td>256</td></tr>
    </table></body>"""

    text = parse("table.html", html).sections[0].text

    assert "Setting | Default" in text
    assert "chunk_size | 256" in text


def test_html_paragraph_starting_with_a_hash_is_not_a_heading() -> None:
    html = b"<body><h1>Tags</h1><p># release notes</p><p>More text.</p></body>"

    document = parse("tags.html", html)

    assert headings(document) == ["Tags"]
    assert "# release notes" in document.sections[0].text
    assert "More text." in document.sections[0].text


def test_html_private_use_characters_do_not_break_the_heading_markers() -> None:
    # Icon fonts (Material Icons' "error" is U+E000) put private-use characters in real pages.
    html = (
        "<html><body><h1>&#xe000; Alerts</h1><p>&#xe000;</p><p>&#xe000;3 lamps are lit.</p>"
        "<h2>Next</h2><p>Trim the wick.</p></body></html>"
    )

    parsed = parse("alerts.html", html.encode())

    assert headings(parsed) == ["Alerts", "Alerts > Next"]
    assert "3 lamps are lit." in all_text(parsed)
    assert "\ue000" not in all_text(parsed)
