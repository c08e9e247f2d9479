"""The public article shape: a subset of IPTC ninjs 3.1 (https://iptc.org/standards/ninjs/).

Serialise with `model_dump(mode="json", by_alias=True, exclude_none=True)`; the result
validates against the official ninjs 3.1 JSON Schema.
"""

from datetime import datetime
from typing import Literal

from pydantic import AnyUrl, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

NINJS_PROFILE = "newsflow-article"


class NinjsModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Headline(NinjsModel):
    role: str | None = Field(default=None, description="'main' for the headline shown on pages.")
    value: str


class Body(NinjsModel):
    role: str | None = Field(default=None, description="'html' or 'text'.")
    content_type: str | None = None
    value: str
    char_count: int | None = None
    word_count: int | None = None


class Description(NinjsModel):
    role: str | None = Field(default=None, description="'teaser' or 'summary'.")
    content_type: str | None = None
    value: str


class Concept(NinjsModel):
    """A subject, person, place or organisation the article is about."""

    name: str | None = None
    uri: str | None = None
    literal: str | None = None
    rel: str | None = None
    creator: str | None = Field(default=None, description="Who assigned it: 'editor' or 'machine'.")
    relevance: int | None = Field(default=None, ge=0, le=100)


class AltId(NinjsModel):
    role: str | None = None
    value: str


class Rendition(NinjsModel):
    name: str | None = None
    href: AnyUrl | None = None
    content_type: str | None = None
    title: str | None = None


class Association(NinjsModel):
    """An image (or other object) attached to the article."""

    name: str
    uri: str
    type: Literal["picture", "graphic", "video", "audio"] = "picture"
    descriptions: list[Description] | None = None
    copyright_notice: str | None = None
    renditions: list[Rendition] | None = None


class NinjsArticle(NinjsModel):
    uri: str = Field(description="Global identifier of the article: urn:newsflow:article:<id>.")
    type: Literal["text"] = "text"
    profile: str = NINJS_PROFILE
    version: str = Field(description="The article version, a positive integer as a string.")
    first_created: datetime
    version_created: datetime
    embargoed_until: datetime | None = None
    pub_status: Literal["usable", "withheld", "canceled"] = "usable"
    language: str | None = None
    headlines: list[Headline]
    bodies: list[Body]
    descriptions: list[Description] | None = None
    by: str | None = None
    slugline: str | None = None
    subjects: list[Concept] | None = None
    people: list[Concept] | None = None
    places: list[Concept] | None = None
    organisations: list[Concept] | None = None
    alt_ids: list[AltId] | None = None
    associations: list[Association] | None = None
    ed_note: str | None = Field(default=None, description="Correction notes to the receiver.")

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
