"""Japan-specific accuracy rules (APPI Art. 22) as Great Expectations expectation classes.

`import kakunin.gx_expectations` is all a GX user needs before loading a Kakunin suite
(`expectations/README.md` shows how); the module imports nothing else from Kakunin.
Each class is a regex expectation with its pattern set, so a suite reads as sentences
(`expect_column_values_to_be_jp_postal_code`) and Data Docs say the rule in words
("values must be Japanese postal codes (NNN-NNNN)"), never "a regular expression but none
was specified" (the pattern is a default, so it is not in the suite's kwargs).

Patterns use `[0-9]`, not `\\d`: Python's `\\d` also matches full-width digits, which these
fields must not contain. They end in `\\Z`, not `$`: `$` also matches before a final
newline, so a quoted CSV value `"100-0005\\n"` would pass.

Registration is idempotent: GX registers an expectation class when it is defined, and a
second definition of the same name (this file imported again under another module name,
as Airflow's plugin loader does, or reloaded) would log "Overwriting declaration" for the
class and each of its 13 renderers. `_RegisterOnce` hands back the class already
registered instead. Importing this module imports GX (seconds): keep it off the CLI's path.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.expectations.core.expect_column_values_to_match_regex import (
    ExpectColumnValuesToMatchRegex,
)
from great_expectations.expectations.expectation import MetaExpectation
from great_expectations.expectations.registry import _registered_expectations
from great_expectations.render.components import (
    LegacyDiagnosticRendererType,
    LegacyRendererType,
    RenderedStringTemplateContent,
)
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import RendererConfiguration, RendererValueType
from great_expectations.render.util import num_to_str
from great_expectations.util import camel_to_snake

__all__ = [
    "CUSTOM_EXPECTATIONS",
    "ExpectColumnValuesToBeEmailAddress",
    "ExpectColumnValuesToBeFullWidthKatakana",
    "ExpectColumnValuesToBeJpPhoneNumber",
    "ExpectColumnValuesToBeJpPostalCode",
]

_JP_PHONE = (
    r"^(?:"
    r"0[789]0-?[0-9]{4}-?[0-9]{4}"  # mobile: 070/080/090, 11 digits
    r"|0120-?[0-9]{3}-?[0-9]{3}"  # toll-free 0120, 10 digits
    r"|0800-?[0-9]{3}-?[0-9]{4}"  # toll-free 0800, 11 digits
    r"|0[1-9][0-9]{8}"  # fixed line, 10 digits, no hyphens
    r"|0[1-9](?:-[0-9]{4}|[0-9]-[0-9]{3}|[0-9]{2}-[0-9]{2}|[0-9]{3}-[0-9])-[0-9]{4}"  # fixed line, hyphenated
    r")\Z"
)
_EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)


class _RegisterOnce(MetaExpectation):
    """Defines a Kakunin expectation once per process; a repeated definition returns the first."""

    kakunin_register_once = True

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any) -> Any:
        existing = _registered_expectations.get(camel_to_snake(name))
        if existing is not None and getattr(type(existing), "kakunin_register_once", False):
            return existing
        return super().__new__(mcs, name, bases, attrs, **kwargs)  # type: ignore[no-untyped-call]


def _params(configuration: Any, result: Any) -> dict[str, Any]:
    """The kwargs of the rule being rendered; GX passes `configuration` or only `result`, or neither."""
    config = configuration if configuration is not None else getattr(result, "expectation_config", None)
    return dict(getattr(config, "kwargs", None) or {})


class _InWords:
    """Renderers that say the rule as `described`, for the legacy (Data Docs) and atomic renderer types."""

    described: ClassVar[str]

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration[Any]) -> RendererConfiguration[Any]:
        renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
        renderer_configuration.add_param(name="mostly", param_type=RendererValueType.NUMBER)
        template = f"values must be {cls.described}"
        mostly = renderer_configuration.params.mostly
        if mostly and mostly.value < 1.0:
            renderer_configuration = cls._add_mostly_pct_param(renderer_configuration)  # type: ignore[attr-defined]
            template += ", at least $mostly_pct % of the time"
        if renderer_configuration.include_column_name:
            template = f"$column {template}"
        renderer_configuration.template_str = f"{template}."
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls, configuration: Any = None, result: Any = None, runtime_configuration: dict[str, Any] | None = None
    ) -> list[RenderedStringTemplateContent]:
        runtime_configuration = runtime_configuration or {}
        params = _params(configuration, result)
        template = f"values must be {cls.described}"
        mostly = params.get("mostly")
        if isinstance(mostly, int | float) and mostly < 1.0:
            params["mostly_pct"] = num_to_str(mostly * 100, no_scientific=True)
            template += ", at least $mostly_pct % of the time"
        if runtime_configuration.get("include_column_name") is not False and params.get("column"):
            template = f"$column {template}"
        string_template = {
            "template": f"{template}.",
            "params": params,
            "styling": runtime_configuration.get("styling"),
        }
        return [RenderedStringTemplateContent(content_block_type="string_template", string_template=string_template)]

    @classmethod
    @renderer(renderer_type=LegacyDiagnosticRendererType.UNEXPECTED_STATEMENT)
    def _diagnostic_unexpected_statement_renderer(
        cls, configuration: Any = None, result: Any = None, runtime_configuration: dict[str, Any] | None = None
    ) -> list[RenderedStringTemplateContent]:
        counts = getattr(result, "result", None) or {}
        if result is None or result.success or not counts.get("unexpected_count"):
            return super()._diagnostic_unexpected_statement_renderer(  # type: ignore[misc, no-any-return]
                configuration, result, runtime_configuration
            )
        params = {
            "unexpected_count": num_to_str(counts["unexpected_count"], use_locale=True, precision=20),
            "element_count": num_to_str(counts.get("element_count", 0), use_locale=True, precision=20),
            "unexpected_percent": f"{num_to_str(counts.get('unexpected_percent', 0.0), precision=4)}%",
        }
        template = f"\n\n$unexpected_count of $element_count rows ($unexpected_percent) are not {cls.described}."
        string_template = {
            "template": template,
            "params": params,
            "tag": "strong",
            "styling": {"classes": ["text-danger"]},
        }
        return [RenderedStringTemplateContent(content_block_type="string_template", string_template=string_template)]

    @classmethod
    @renderer(renderer_type=LegacyRendererType.QUESTION)
    def _question_renderer(cls, configuration: Any, result: Any = None, runtime_configuration: Any = None) -> str:
        return f'Are the values in column "{_params(configuration, result).get("column")}" {cls.described}?'

    @classmethod
    @renderer(renderer_type=LegacyRendererType.ANSWER)
    def _answer_renderer(cls, configuration: Any = None, result: Any = None, runtime_configuration: Any = None) -> str:
        column = _params(configuration, result).get("column")
        verdict = "are" if result is not None and result.success else "are not all"
        return f'The values in column "{column}" {verdict} {cls.described}.'


class ExpectColumnValuesToBeJpPostalCode(_InWords, ExpectColumnValuesToMatchRegex, metaclass=_RegisterOnce):  # type: ignore[misc]
    """Values are Japanese postal codes (郵便番号) written NNN-NNNN in half-width digits."""

    regex: str = r"^[0-9]{3}-[0-9]{4}\Z"
    described: ClassVar[str] = "Japanese postal codes (NNN-NNNN)"


class ExpectColumnValuesToBeJpPhoneNumber(_InWords, ExpectColumnValuesToMatchRegex, metaclass=_RegisterOnce):  # type: ignore[misc]
    """Values are Japanese phone numbers: fixed line, mobile, 0120 or 0800; hyphens optional; half-width digits."""

    regex: str = _JP_PHONE
    described: ClassVar[str] = (
        "Japanese phone numbers (fixed line, mobile 070/080/090, 0120 or 0800; half-width digits, hyphens optional)"
    )


class ExpectColumnValuesToBeFullWidthKatakana(_InWords, ExpectColumnValuesToMatchRegex, metaclass=_RegisterOnce):  # type: ignore[misc]
    """Values are full-width katakana (全角カタカナ), with spaces and the long-vowel mark ー only."""

    regex: str = r"^[ァ-ヶー 　]+\Z"
    described: ClassVar[str] = "full-width katakana (全角カタカナ, spaces and ー allowed)"


class ExpectColumnValuesToBeEmailAddress(_InWords, ExpectColumnValuesToMatchRegex, metaclass=_RegisterOnce):  # type: ignore[misc]
    """Values are plausible email addresses: a local part, @, and a domain with a top-level label."""

    regex: str = _EMAIL
    described: ClassVar[str] = "email addresses (local-part@domain.tld)"


CUSTOM_EXPECTATIONS = (
    ExpectColumnValuesToBeJpPostalCode,
    ExpectColumnValuesToBeJpPhoneNumber,
    ExpectColumnValuesToBeFullWidthKatakana,
    ExpectColumnValuesToBeEmailAddress,
)
