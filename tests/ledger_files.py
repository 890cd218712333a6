"""Realistic ledger files for the import/export tests: what offices keep in Excel."""

from __future__ import annotations

import csv
import json
from pathlib import Path

HEADERS = ["序号", "方面", "具体问题", "细化问题", "整改措施", "责任领导", "责任单位", "责任人", "整改时限",
           "完成情况", "整改进展", "备注"]
# Items of two aspects; 方面 and 具体问题 are merged over the rows they cover.
ROWS = [
    ["1", "履行监督职责不到位", "联络指导代表履职不够", "对乡镇人大日常监督指导不够",
     "一是制定联系制度\n二是每季度走访一次\n三是建立工作台账", "主任甲", "办公室", "张三", "2025-10-31", "完成", "已制定联系制度", None],
    ["2", "履行监督职责不到位", "联络指导代表履职不够", "代表联络站作用发挥不充分",
     "一是完善站点设施\n二是定期开展活动", "主任甲", "办公室", "李四", "2025-11-30", "阶段性完成", "已完善设施",
     "2026年1月底前完成剩余站点"],
    ["3", "财经纪律执行不严谨", "财经纪律执行不严谨", "采购程序不规范", "修订《政府采购管理制度》",
     "副主任乙", "财务科", None, "2025-09-30", "整改中", None, None],
    ["4", "财经纪律执行不严谨", "财经纪律执行不严谨", "差旅费超标准报销", "清退超标准费用240元",
     "副主任乙", "财务科", "王五", "2025-09-30", None, None, None],
]
MERGES = ["B4:B5", "C4:C5", "B6:B7", "C6:C7"]  # rows 4-5 and 6-7 (title row 1, header row 3)


def write_xlsx(path: Path, rows: list[list] | None = None, *, title: str = "市人大机关巡察整改落实台账") -> Path:
    import openpyxl

    rows = ROWS if rows is None else rows
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append(["填报单位：办公室"])
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    if rows is ROWS:
        for rng in MERGES:
            first = ws[rng.split(":")[1]]
            first.value = None  # a merged range keeps its value only in the top-left cell
            ws.merge_cells(rng)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list] | None = None, *, encoding: str = "gb18030") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        for r in ROWS if rows is None else rows:
            w.writerow(["" if v is None else v for v in r])
    return path


def write_json(path: Path, rows: list[list] | None = None) -> Path:
    items = [{h: v for h, v in zip(HEADERS, r) if v is not None} for r in (ROWS if rows is None else rows)]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path
