"""Synthetic training examples that teach the reader what a document's header answers.

The product cites a document's metadata as a header unit, `#p0`, written by ingest/header.py as
plain sentences ("The document was written by A and published by B on D."). The public QA data has
no such sentences, and a reader trained without them takes a header that names a question's person
or year for an answer to any question about that document ("In his 2024 piece, what does Ham say
...?"). So for each paragraph of the training articles a header is made up (a random author,
publisher, date and address from the pools below, some fields left out; never names from the
project's sources) and written by the product's own `header_sentences`, and three kinds of pairs
are added:
- a metadata question ("Who wrote the article on Oxygen?") against the header's sentences: the one
  stating the asked field answers it; when the header leaves that field out, none does;
- the paragraph's own SQuAD questions against the header's sentences: none answers them;
- the metadata question against sentences of the paragraph: none answers it.
The question templates are many and plain; they are training data, not rules the product applies.
"""

from __future__ import annotations

import random
import re

from assistant.reader import candidate_text
from assistant.records import Document
from ingest.header import date_in_words, header_sentences
from training.pairs import Pair, Question

SOURCE = "metadata (synthetic)"

FIRST_NAMES = ("Amelia", "Rohan", "Grace", "Tomasz", "Ines", "Kwame", "Sofia", "Daniel", "Mei", "Oluwaseun", "Hannah", "Mateo",
               "Priya", "Jonas", "Aisha", "Connor", "Elena", "Yusuf", "Freya", "Kenji", "Lucia", "Samuel", "Nadia", "Owen",
               "Chiara", "Ibrahim", "Maeve", "Anders", "Leila", "Victor")
LAST_NAMES = ("Okonkwo", "Lindqvist", "Hargreaves", "Castellano", "Novak", "Bhattacharya", "Whitfield", "Moreau", "Tanaka",
              "Adeyemi", "Kowalski", "Fitzgerald", "Haddad", "Sorensen", "Pemberton", "Duarte", "Nakamura", "Abernathy",
              "Oyelaran", "Richter", "Vasquez", "Holloway", "Kaur", "Brennan", "Petrov", "Achebe", "Lindgren", "Marsh")
ORG_WORDS = ("Meridian", "Harbourside", "Northgate", "Lantern", "Ashdown", "Bramble", "Crescent", "Fenwick", "Granite",
             "Kestrel", "Larchmont", "Millbrook", "Oakfield", "Pinecrest", "Riverbend", "Stonebridge", "Thornbury", "Westmere")
ORG_KINDS = ("Institute", "Press", "Review", "Foundation", "Policy Centre", "Trust", "Society", "Observatory", "Journal")

AUTHOR_QUESTIONS = ("Who wrote {ref}?", "Who is the author of {ref}?", "Who was {ref} written by?", "Which writer produced {ref}?")
PUBLISHER_QUESTIONS = ("Who published {ref}?", "Which organisation published {ref}?", "Who is the publisher of {ref}?")
DATE_QUESTIONS = ("When was {ref} published?", "In what year was {ref} published?", "What is the publication date of {ref}?",
                  "When did {ref} come out?")
URL_QUESTIONS = ("What is the web address of {ref}?", "Where can {ref} be found online?", "What is the URL of {ref}?")
TITLE_QUESTIONS = ("What is the title of the piece by {author}?", "What is {author}'s article called?",
                   "What title did {author} give the article?")


def _made_up_document(title: str, rng: random.Random) -> Document:
    author = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" if rng.random() < 0.8 else ""
    publisher = f"The {rng.choice(ORG_WORDS)} {rng.choice(ORG_KINDS)}" if rng.random() < 0.7 else ""
    year = rng.randint(1995, 2025)
    date = rng.choice((f"{year}", f"{year}-{rng.randint(1, 12):02d}", f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
    date = date if rng.random() < 0.8 else ""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    url = f"https://www.{re.sub(r'[^a-z]+', '', publisher.lower()) or 'example'}.org/{slug}" if rng.random() < 0.4 else ""
    return Document(id="x", path="", title=title, author=author, publisher=publisher, date=date, url=url)


def _metadata_question(doc: Document, rng: random.Random) -> tuple[str, str | None]:
    """A metadata question about `doc` and the text its answer must contain (None: the header does not say)."""
    ref = rng.choice((f"the article on {doc.title}", f"“{doc.title}”", f"the piece about {doc.title}"))
    kinds = ["author", "publisher", "date", "url"] + (["title"] if doc.author else [])
    kind = rng.choice(kinds)
    if kind == "author":
        return rng.choice(AUTHOR_QUESTIONS).format(ref=ref), doc.author or None
    if kind == "publisher":
        return rng.choice(PUBLISHER_QUESTIONS).format(ref=ref), doc.publisher or None
    if kind == "date":
        return rng.choice(DATE_QUESTIONS).format(ref=ref), (date_in_words(doc.date).split(" ", 1)[1] if doc.date else None)
    if kind == "url":
        return rng.choice(URL_QUESTIONS).format(ref=ref), doc.url or None
    return rng.choice(TITLE_QUESTIONS).format(author=doc.author), doc.title


def metadata_questions(paragraphs: list[tuple[str, list[str], list[str], str]], rng: random.Random, source: str = SOURCE):
    """`paragraphs`: (title, sentences, the paragraph's own questions, paragraph key). Returns
    `training.pairs.Question`s: per paragraph, one metadata question over the header and some of
    the paragraph's sentences, and one of the paragraph's questions over the header."""
    out = []
    for title, sentences, own_questions, key in paragraphs:
        doc = _made_up_document(title, rng)
        header = header_sentences(doc)
        if not header:
            continue
        header_texts = [candidate_text(s, title, "", header[i - 1] if i else None) for i, s in enumerate(header)]
        question, answer = _metadata_question(doc, rng)
        labels = [float(answer is not None and answer in s) for s in header]
        content = rng.sample(range(len(sentences)), min(2, len(sentences)))
        pairs = [Pair(question, text, label, f"meta-{key}", source) for text, label in zip(header_texts, labels)]
        pairs += [Pair(question, candidate_text(sentences[i], title, "", sentences[i - 1] if i else None), 0.0, f"meta-{key}", source)
                  for i in content]
        out.append(Question(f"meta-{key}", any(labels), tuple(pairs), source))
        if own_questions:
            asked = rng.choice(own_questions)
            out.append(Question(f"meta-content-{key}", False,
                                tuple(Pair(asked, text, 0.0, f"meta-content-{key}", source) for text in header_texts), source))
    return out
