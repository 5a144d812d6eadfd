"""A run's news from the watches, by e-mail through an SMTP server the
user names: one message per run with every new hit and its citation, none
when there is nothing new."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage


def news_message(news: list[dict], sender: str, to: str) -> EmailMessage | None:
    hits = sum(len(n["hits"]) for n in news)
    if not hits:
        return None
    msg = EmailMessage()
    msg["Subject"] = f"sok: {hits} {'ny träff' if hits == 1 else 'nya träffar'} i dina bevakningar"
    msg["From"], msg["To"] = sender, to
    lines = []
    for n in news:
        lines.append(f"Bevakning: {n['watch']}")
        for h in n["hits"]:
            where = ", ".join(x for x in (h["organ"], h["date"], h["item"]) if x)
            pages = f"s. {h['page_start']}" + (f"–{h['page_end']}" if h["page_end"] != h["page_start"] else "")
            lines += [f"  - {h['title']} ({where})", f"    {h['snippet']}", f"    {h['file']}, {pages}"]
        lines.append("")
    msg.set_content("\n".join(lines))
    return msg


def send(server: str, msg: EmailMessage, timeout: float = 30.0) -> None:
    """`server` as HOST:PORT (port 25 by default). Plain SMTP, as a local relay speaks it."""
    host, _, port = server.rpartition(":") if ":" in server else (server, "", "25")
    with smtplib.SMTP(host or server, int(port or 25), timeout=timeout) as smtp:
        smtp.send_message(msg)
