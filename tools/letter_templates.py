"""Write the shipped letter templates (engine/data/letters/*.docx) in the GB/T 9704 form of the notice.

    python tools/letter_templates.py

They are docxtpl (Jinja2) templates: an office may replace one with its own Word file using the same
placeholders ({{ number }}, {{ unit }}, {{ campaign }}, {{ code }}, {{ title }}, {{ deadline }},
{{ late }}, {{ asked }}, {{ reply_by }}, {{ issuer }}, {{ issued }}) and name it in the config's
[letters] section (remind_template, supervise_template).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.reports.gongwen import Block, to_docx  # noqa: E402

SIGNATURE = [Block("blank"), Block("signature", "{{ issuer }}", 4), Block("date", "{{ issued }}", 4)]
TEMPLATES = {
    "remind": [
        Block("title", "催办通知书"), Block("number", "{{ number }}"), Block("blank"),
        Block("plain", "{{ unit }}："),
        Block("body", "你单位牵头承担的{{ campaign }}反馈问题整改任务“{{ code }}. {{ title }}”，"
                      "整改时限为{{ deadline }}{{ late }}。"),
        Block("body", "请你单位{{ asked }}，并于{{ reply_by }}前将整改进展情况及佐证材料报送{{ issuer }}。"),
        Block("body", "特此通知。"), *SIGNATURE],
    "supervise": [
        Block("title", "督办函"), Block("number", "{{ number }}"), Block("blank"),
        Block("plain", "{{ unit }}："),
        Block("body", "{{ campaign }}反馈问题整改任务“{{ code }}. {{ title }}”由你单位牵头整改，"
                      "整改时限为{{ deadline }}{{ late }}，现列为督办事项。"),
        Block("body", "请你单位高度重视，{{ asked }}，并于{{ reply_by }}前将整改落实情况书面报送{{ issuer }}。"),
        Block("body", "特此函告。"), *SIGNATURE],
}


def main() -> None:
    for kind, blocks in TEMPLATES.items():
        (ROOT / "engine" / "data" / "letters" / f"{kind}.docx").write_bytes(to_docx(blocks))


if __name__ == "__main__":
    main()
