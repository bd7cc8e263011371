"""The provenance gate: is this batch's lawful acquisition documented (provenance-document.md)?"""

from kakunin.provenance.denylist import normalise_company_name
from kakunin.provenance.document import check_path
from kakunin.provenance.findings import Finding, Verdict
from kakunin.provenance.model import ProvenanceDocument

__all__ = ["Finding", "ProvenanceDocument", "Verdict", "check_path", "normalise_company_name"]
