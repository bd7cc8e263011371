"""What each reason code means, in Japanese, for acquisition staff reading findings in the web app.

A finding's `message` is English and specific (it names the field and the value's problem);
this is the code's meaning in the words of APPI's guidelines, shown under it. One line per
code; a test keeps the table complete, so a new code cannot reach a page without it.
"""

from __future__ import annotations

from kakunin.codes import ReasonCode

JAPANESE: dict[ReasonCode, str] = {
    ReasonCode.SCHEMA: "確認記録の形式が正しくありません(必須項目の欠落、型や値の誤り)。",
    ReasonCode.DATASET_UNKNOWN: "データセットが登録されていません。契約(contract.yaml)のあるものを指定してください。",
    ReasonCode.FOUR_EYES: "作成者と承認者が同一です。別の担当者の承認が必要です(安全管理措置)。",
    ReasonCode.PROVIDER_IDENTITY: "提供者の名称・住所・代表者(法人番号)を確認できません(法30条1項1号)。",
    ReasonCode.ACQUISITION_UNDOCUMENTED: "提供者による取得の経緯が記録されていません(法30条1項2号、20条)。",
    ReasonCode.ACQUISITION_CHAIN: "取得の経緯(上流の提供元)がたどれません。適正取得を確認できません(法20条1項)。",
    ReasonCode.LEGAL_GROUND_CONSENT: "本人の同意を示す記録・証跡がありません(法27条1項)。",
    ReasonCode.LEGAL_GROUND_OPT_OUT: "オプトアウトによる提供の届出・要件を確認できません(法27条2項〜4項)。",
    ReasonCode.SPECIAL_CARE_CONSENT: "要配慮個人情報の取得に本人の同意が確認できません(法20条2項)。",
    ReasonCode.PURPOSE_UNREGISTERED: "利用目的が登録(purposes.yaml)されていません(法17条)。",
    ReasonCode.PURPOSE_NOT_PERMITTED: "このデータセットに認められていない利用目的です(法18条)。",
    ReasonCode.PURPOSE_BEYOND_CONSENT: "本人が同意した範囲を超える利用目的です(法18条)。",
    ReasonCode.NOTICE_MISSING: "利用目的の通知・公表が確認できません(法21条)。",
    ReasonCode.DATA_ITEMS_UNDECLARED: "データに、確認記録で申告されていない個人情報の項目があります(法17条、30条3項)。",
    ReasonCode.CONTRACTOR_UNAPPROVED: "委託先(再委託先を含む)が承認されていません。委託先の監督が必要です(法25条)。",
    ReasonCode.CONTRACTOR_REVIEW_STALE: "委託先の点検から期間が経過しています。再点検してください(法25条)。",
    ReasonCode.EVIDENCE_MISSING: "確認記録が示す証跡ファイルがありません(法30条)。",
    ReasonCode.EVIDENCE_HASH_MISMATCH: "証跡ファイルの内容が記録のハッシュ値と一致しません(法30条)。",
    ReasonCode.EVIDENCE_UNSAFE_PATH: "証跡ファイルのパスが安全ではありません(絶対パスや「..」は使えません)。",
    ReasonCode.RETENTION_INVALID: "保存期間が不正、または契約の上限を超えています(法22条)。",
    ReasonCode.DATES_INCONSISTENT: "日付の前後関係が矛盾しています(取得期間、受領日など)。",
    ReasonCode.ATTESTATION_RED_FLAG: "表明事項に問題があります(秘密表示、カード情報、提供者の本人確認)(法20条)。",
    ReasonCode.GDPR_MISSING: "EU由来のデータに必要なGDPR上の記載がありません(GDPR 14条)。",
    ReasonCode.GROUND_REVIEW: "この提供根拠は法務の確認が必要です(法27条1項)。",
    ReasonCode.PROVIDER_INDIVIDUAL: "提供者が個人です。名簿の転売など適正取得を確認できません(法20条1項)。",
    ReasonCode.PROVIDER_DENIED: "提供者が受入れ禁止リストに載っています(法20条1項)。",
    ReasonCode.GROUND_ENTRUSTMENT: "委託に伴う提供の要件(委託の範囲、返却・削除)を確認できません(法27条5項1号)。",
    ReasonCode.GROUND_JOINT_USE: "共同利用の要件(通知・公表事項)を確認できません(法27条5項3号)。",
    ReasonCode.GROUND_SUCCESSION: "事業承継に伴う提供の要件を確認できません(法27条5項2号)。",
    ReasonCode.GROUND_LEGAL_OBLIGATION: "法令に基づく提供であることを確認できません(法27条1項)。",
    ReasonCode.SPECIAL_CARE_MISMATCH: "要配慮個人情報の申告がデータの内容と一致しません(法2条3項、20条2項)。",
    ReasonCode.CONTRACTOR_FOREIGN: "外国にある第三者への提供の要件を確認できません(法28条)。",
    ReasonCode.GDPR_PURPOSE_AT_TRANSFER: "EUから移転時の利用目的を超えています(GDPR 5条1項b、補完的ルール)。",
    ReasonCode.NOTICE_LATE: "利用目的の通知・公表が取得後です。速やかに通知・公表したか確認してください(法21条1項)。",
    ReasonCode.LANDING_TAMPERED: "受付後にファイルが変更されています。再提出してください。",
    ReasonCode.PARSE_SCHEMA: "データの列が契約(contract.yaml)と一致しません。",
    ReasonCode.PARSE_ENCODING: "データの文字コードが契約と一致しません(UTF-8 または Shift_JIS/cp932)。",
    ReasonCode.PARSE_VALUE: "契約の型に合わない値があります。",
    ReasonCode.ACCURACY_THRESHOLD: "正確性の検査で不合格の行が上限を超えました(法22条)。",
    ReasonCode.SUBJECT_ERASED: "本人から削除の請求がある人の行を取り込まずに除きました(法35条)。",
    ReasonCode.INTAKE_OVERLAP: "既存データと大きく重複しています。流出データでないか確認してください(法20条1項)。",
    ReasonCode.EXPORT_PURPOSE_UNREGISTERED: "持出しの利用目的が登録されていません(法17条)。",
    ReasonCode.EXPORT_PURPOSE_NOT_ALLOWED: "このデータセットでは認められていない持出しの目的です(法18条)。",
    ReasonCode.EXPORT_COLUMNS: "利用目的に必要のない列は持ち出せません(法18条、23条)。",
    ReasonCode.EXPORT_OVER_LIMIT: "持出しの上限を超えています(法23条、24条)。",
    ReasonCode.LINEAGE_UNLOCKED: "リネージまたは監査記録が追記専用(WORM)で保管されていません。",
}


def japanese(code: ReasonCode | str) -> str:
    """The Japanese meaning of `code` ("" for a string that is no code, e.g. a GX rule name)."""
    try:
        return JAPANESE.get(ReasonCode(code), "")
    except ValueError:
        return ""
