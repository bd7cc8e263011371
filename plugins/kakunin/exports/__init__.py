"""Purpose-bound exports (APPI Art. 18, 23, 24): records released for one purpose, only its columns.

An export is a derived dataset held in the store (`exports/<dataset>/<export_id>/`): the
released rows (`data.parquet`, each with its source record id) and a manifest without
personal data (`manifest.parquet`). Its receipt in the export register
(`lineage/exports/<export_id>.json`) is written once and says who took what out, for which
purpose, under which limits. Purges, erasures and corrections of a source record reach
every export still held (`kakunin.exports.reach`).
"""
