"""Varied KPI (绩效指标) row text: 三级指标 names and 指标值 targets for every 二级 category, built from
templates × nouns / verbs / units typical of Chinese government performance-target forms.

Used by scripts/train_kpi_classifier.py, so that the level classifier sees thousands of distinct
三级 texts per category instead of a small memorisable pool. Written from general knowledge of
the forms (绩效目标表); nothing here is taken from a test transcript.

    rng = random.Random(0)
    kpi_row(rng, "质量指标", 2024)       # -> ("设备验收合格率", "≥98%")
    kpi_table_rows(rng, 2024)          # -> [dict(l1, l2, l2_text, l3, value), …] of one table

Everything is a pure function of the ``random.Random`` passed in.
"""
from __future__ import annotations

import random
from typing import Callable, Optional

# ------------------------------------------------------------------ vocabulary
# work objects, grouped by the measure words they take
_OBJ_EVENT = [  # things that happen: 次/场/期/项/批
    "培训", "业务培训", "专题培训", "技能培训", "宣讲", "宣传活动", "文艺演出", "送戏下乡", "电影放映", "体育赛事",
    "健身活动", "义诊", "健康讲座", "检查", "监督检查", "专项检查", "执法检查", "安全检查", "巡查", "督查", "暗访",
    "抽检", "抽查", "调研", "会议", "座谈会", "协调会", "招商推介会", "展会", "展览", "应急演练", "消防演练",
    "志愿服务活动", "慰问活动", "走访", "入户走访", "普法宣传", "法律咨询", "讲座", "比赛", "评选", "验收",
    "考核", "评估", "审计", "监测", "舆情监测", "水质监测", "采样检测", "防疫消杀", "疫苗接种", "健康体检",
    "环境整治", "卫生清理", "设备维修", "维修维护", "巡检", "保养", "专题节目", "新闻发布会", "直播", "采访",
]
_OBJ_ITEM = [  # things that are counted: 台/套/件/个/辆/部/本/册/份/篇/块/张/条
    "电脑", "办公电脑", "打印机", "复印机", "投影仪", "摄像机", "照相机", "相机镜头", "无人机", "服务器", "交换机",
    "监控设备", "执法记录仪", "办公桌椅", "档案柜", "空调", "公务用车", "执法车辆", "救护车", "消防器材", "灭火器",
    "应急物资", "帐篷", "救灾物资", "宣传册", "宣传资料", "宣传展板", "标语", "横幅", "公益广告", "宣传片",
    "新闻稿件", "信息简报", "调研报告", "分析报告", "期刊", "图书", "报纸", "档案", "案卷", "文件", "证书",
    "软件", "系统", "信息平台", "网站", "公众号推文", "短视频", "视频", "图片", "节目", "稿件", "路灯", "垃圾桶",
    "垃圾箱", "公厕", "指示牌", "警示牌", "健身器材", "课桌椅", "图书资料", "教学设备", "医疗设备", "药品",
    "疫苗", "种子", "化肥", "农机具", "苗木", "树苗", "机井", "水泵", "太阳能路灯", "充电桩", "电子屏",
]
_OBJ_PLACE = [  # places / units served: 个/所/处/家/座/村/户
    "乡镇", "行政村", "社区", "村", "学校", "幼儿园", "卫生室", "卫生院", "医院", "养老院", "敬老院", "文化站",
    "农家书屋", "站点", "网点", "服务站", "企业", "合作社", "家庭农场", "示范点", "基地", "景区", "市场",
    "门店", "工地", "泵站", "水厂", "污水处理站", "公园", "广场", "停车场", "桥梁", "道路", "河道", "库区",
]
_OBJ_PEOPLE = [  # people: 人/人次/名/户
    "参训人员", "培训人员", "学员", "学生", "教师", "医护人员", "干部职工", "职工", "工作人员", "志愿者",
    "受益群众", "受益人口", "贫困户", "脱贫户", "低保对象", "特困人员", "残疾人", "老年人", "高龄老人",
    "困难群众", "退役军人", "优抚对象", "留守儿童", "农户", "种植户", "养殖户", "就业人员", "公益性岗位人员",
    "安置人员", "务工人员", "患者", "孕产妇", "儿童", "游客", "观众", "读者", "参赛人员", "驻场人员", "巡检员",
    "保洁人员", "护林员", "网格员", "辅警", "临聘人员", "服务对象",
]
_OBJ_MEASURE = [  # physical quantities
    ("道路", ["公里", "米"]), ("管网", ["公里", "米"]), ("围栏", ["米", "公里"]), ("渠道", ["公里", "米"]),
    ("绿化面积", ["平方米", "亩"]), ("造林面积", ["亩"]), ("改造面积", ["平方米"]), ("种植面积", ["亩"]),
    ("修缮面积", ["平方米"]), ("硬化面积", ["平方米"]), ("覆盖面积", ["平方公里", "亩"]), ("粮食储备", ["吨"]),
    ("垃圾清运量", ["吨"]), ("供水量", ["吨", "立方米"]), ("培训课时", ["课时", "学时"]), ("服务时长", ["小时", "天"]),
    ("运行天数", ["天"]), ("值班天数", ["天"]), ("监测时长", ["小时"]), ("播出时长", ["分钟", "小时"]),
]
_UNIT_EVENT = ["次", "场", "场次", "期", "项", "批", "轮", "次"]
_UNIT_ITEM = ["台", "套", "件", "个", "辆", "部", "本", "册", "份", "篇", "块", "张", "条", "批", "组", "根", "株"]
_UNIT_PLACE = ["个", "所", "处", "家", "座", "村", "户", "个"]
_UNIT_PEOPLE = ["人", "人次", "名", "户", "人"]

_TOPIC = [  # what a project is about (a prefix for many names)
    "新闻宣传", "宣传", "舆情", "培训", "教育", "卫生", "医疗", "疾控", "农业", "林业", "水利", "交通", "养老", "就业",
    "社保", "文化", "文旅", "体育", "档案", "信息化", "办公", "安全生产", "应急", "环保", "乡村振兴", "党建",
    "民政", "残联", "住房保障", "执法", "消防", "市场监管", "统计", "审计", "招商引资", "政务服务", "公务出行",
    "机关运转", "后勤保障", "网络安全", "数字化", "防汛", "森林防火", "退役军人", "妇女儿童", "科普", "普法",
    "食品安全", "人居环境", "城市管理", "项目建设", "工程", "设备购置", "平台运维", "公益岗位", "资助", "救助",
]
_GROUP = [  # who is served / asked
    "群众", "居民", "村民", "社会公众", "服务对象", "受益群众", "受益对象", "参训人员", "学员", "学生", "家长",
    "教师", "患者", "老年人", "残疾人", "企业", "用户", "读者", "观众", "游客", "职工", "干部职工", "单位职工",
    "办事群众", "农户", "困难群众", "退役军人", "来访群众", "参会人员", "驻村干部", "合作单位", "被帮扶对象",
    "市民", "商户", "上级部门", "使用单位", "使用人员", "项目单位", "相关部门", "志愿者",
]
_VERB_DO = ["开展", "举办", "组织", "召开", "完成", "制作", "发布", "刊发", "购置", "采购", "配备", "安装", "维修",
            "维护", "培训", "检查", "发放", "印制", "建设", "新建", "改造", "修缮", "走访", "慰问", "救助", "资助",
            "覆盖", "服务", "接待", "录制", "播出", "更新", "处理", "受理", "监测", "巡查", "推送", "编印", "出版",
            "补贴", "聘用", "安置", "整治", "清理", "种植", "栽植", "铺设", "硬化", "改建", "扶持", "引进", "举行"]
_CMP_N = ["", "", "", "≥", "≥", "≤", "=", ">", "＞", "≥"]
_CMP_P = ["", "≥", "≥", "≥", "=", ">", "≤"]
_PCT = [60, 70, 75, 80, 85, 90, 92, 95, 96, 97, 98, 99, 100, 100, 100]


def _pick(rng: random.Random, xs):
    return xs[rng.randrange(len(xs))]


_TITLE_A = ["今日", "魅力", "文明", "平安", "美丽", "智慧", "绿色", "健康", "幸福", "活力", "数字", "生态", "乡村"]
_TITLE_B = ["新闻", "时报", "生活报", "周刊", "简报", "快讯", "视点", "年鉴", "志", "手册", "画报", "之声", "在线"]


def _title(rng: random.Random) -> str:
    """A publication / programme name in 《》 (the place part left out or made up)."""
    mid = _pick(rng, ["", "", "汾河", "三晋", "太行", "吕梁", "黄河", "晋中", "城乡", "校园"])
    return f"《{_pick(rng, _TITLE_A)}{mid}{_pick(rng, _TITLE_B)}》"


def _n(rng: random.Random, lo: int = 1, hi: int = 500) -> int:
    r = rng.random()
    if r < 0.45:
        return rng.randint(lo, min(hi, 20))
    if r < 0.8:
        return rng.randint(lo, hi)
    return rng.randint(lo, hi * 20)


def _pct(rng: random.Random) -> str:
    p = _pick(rng, _PCT)
    if rng.random() < 0.08:
        return f"{p - rng.random():.1f}%" if p > 60 else f"{p}%"
    return f"{p}%"


def _cmp_pct(rng: random.Random) -> str:
    c = _pick(rng, _CMP_P)
    return f"{c}{_pct(rng)}".replace("≤100%", "100%")


def _money(rng: random.Random, wan: Optional[bool] = None) -> str:
    """An amount: 万元 or 元, with or without a comparator, commas, decimals."""
    c = _pick(rng, ["", "", "≤", "≤", "<", "=", "≥"])
    if wan is None:
        wan = rng.random() < 0.6
    if wan:
        x = rng.choice([rng.uniform(0.5, 10), rng.uniform(1, 100), rng.uniform(10, 1000)])
        s = f"{x:.{rng.choice([0, 0, 1, 2, 2])}f}"
        return f"{c}{s}{_pick(rng, ['万元', '万元', '万元', '万'])}"
    x = rng.choice([rng.randint(50, 5000), rng.randint(1000, 100000), rng.randint(10, 900) * 1000])
    s = f"{x:,}" if x >= 10000 and rng.random() < 0.5 else str(x)
    if rng.random() < 0.15:
        s += ".00"
    unit = _pick(rng, ["元", "元", "元", "元/人", "元/年", "元/次", "元/人/年", "元/月", "元/台", "元/亩", "元/户"])
    return f"{c}{s}{unit}"


def _date(rng: random.Random, year: int) -> str:
    m = rng.randint(1, 12)
    m2 = min(12, m + rng.randint(1, 6))
    return _pick(rng, [
        f"{year}年{m}月", f"{year}年12月", f"{year}年12月底前", f"{year}年{m}月底前", f"{year}年12月31日前",
        f"{year}年{m}月{rng.randint(1, 28)}日", f"{year}年{m}月至{m2}月", f"{year}年{m}月-{year}年{m2}月",
        f"{year}.{m}", f"{year}年", f"{year}年底", f"{year}年{m}月前", f"{year}-{m:02d}", f"{year}年度",
        f"{year}年1月-12月", f"{year}年{m}月完成",
    ])


# qualitative targets (some shared between categories on purpose: a value alone seldom decides)
_Q_GENERIC = ["完成", "达到预期", "效果明显", "较好", "良好", "按计划完成", "符合要求", "明显", "显著"]
_Q = {
    "数量指标": ["全覆盖", "按需", "根据实际情况", "全年", "全方面", "应发尽发", "应保尽保", "足额", "全部", "按实际"],
    "质量指标": ["合格", "达标", "合规", "规范", "优良", "符合标准", "符合国家标准", "质量达标", "无差错", "准确",
              "符合规定", "验收合格", "零事故", "无安全事故", "100%", "高质量", "安全运行"],
    "时效指标": ["及时", "按时", "按期完成", "按时完成", "当年完成", "全年", "1年", "按月发放", "按季度", "及时到位",
              "按进度完成", "实时", "随时", "年底前", "按合同约定", "限时办结"],
    "成本指标": ["控制在预算内", "不超预算", "控制在合理范围内", "严格控制", "按标准执行", "预算范围内", "厉行节约",
              "节约", "不超过预算", "按实结算"],
    "经济效益指标": ["有效带动", "有效", "增加", "明显增加", "逐步提高", "有所增加", "节约", "降低", "稳步增长", "增收",
                "显著", "促进", "提高"],
    "社会效益指标": ["提升", "有效保障", "有效", "有效", "改善", "明显提高", "逐步提升", "显著提升", "增强", "稳步提高", "有效提升",
                "良好", "提高", "保障", "促进", "有所提升", "持续改善", "有效维护", "明显改善"],
    "生态效益指标": ["改善", "有效改善", "明显改善", "降低", "减少", "持续改善", "无污染", "有效", "达标排放", "零排放",
                "逐步改善", "节约"],
    "可持续影响指标": ["健全", "长期", "可持续", "持续", "长期有效", "建立", "逐步完善", "长期影响", "持续发挥作用",
                 "长效", "稳定运行", "常态化", "持续推进", "完善"],
    "服务对象满意度指标": ["满意", "基本满意", "较满意", "群众满意"],
    "经济成本指标": ["控制在预算内", "不超预算", "严格控制", "预算范围内"],
    "社会成本指标": ["无", "0", "低", "无负面影响", "可控", "较低", "无不良影响", "无社会风险"],
    "生态环境成本指标": ["无", "0", "无影响", "低", "不产生污染", "无污染", "较低", "无破坏", "不造成破坏"],
}


# ------------------------------------------------------------------ per-category generators
def _quantity(rng: random.Random, year: int) -> tuple[str, str]:
    kind = rng.random()
    cmp_ = _pick(rng, _CMP_N)
    if kind < 0.25:
        o, unit = _pick(rng, _OBJ_EVENT), _pick(rng, _UNIT_EVENT)
        name = _pick(rng, [f"{o}次数", f"{o}场次", f"开展{o}", f"{o}", f"组织{o}次数", f"{_pick(rng, _TOPIC)}{o}",
                           f"{o}数量", f"{o}频次", f"举办{o}", f"{_pick(rng, _TOPIC)}{o}次数", f"年度{o}次数"])
    elif kind < 0.5:
        o, unit = _pick(rng, _OBJ_ITEM), _pick(rng, _UNIT_ITEM)
        v = _pick(rng, _VERB_DO)
        name = _pick(rng, [f"{o}数量", f"{v}{o}数量", f"{v}{o}", f"{o}购置数量", f"{o}", f"{_pick(rng, _TOPIC)}{o}",
                           f"{o}{v}数量", f"{v}{o}数", f"新增{o}", f"{o}数"])
    elif kind < 0.68:
        o, unit = _pick(rng, _OBJ_PEOPLE), _pick(rng, _UNIT_PEOPLE)
        name = _pick(rng, [f"{o}人数", f"{o}数量", f"{_pick(rng, _VERB_DO)}{o}", f"{_pick(rng, _VERB_DO)}{o}人数",
                           f"{o}", f"受益{o}人数", f"{o}人次", f"覆盖{o}", f"{o}数"])
        if "人次" in name:
            unit = "人次"
    elif kind < 0.83:
        o, unit = _pick(rng, _OBJ_PLACE), _pick(rng, _UNIT_PLACE)
        name = _pick(rng, [f"覆盖{o}数", f"{o}数量", f"覆盖{o}", f"{_pick(rng, _VERB_DO)}{o}", f"{o}数",
                           f"{_pick(rng, _VERB_DO)}{o}数量", f"受益{o}", f"涉及{o}", f"{o}个数"])
    elif kind < 0.91:
        o, units = _pick(rng, _OBJ_MEASURE)
        unit = _pick(rng, units)
        name = _pick(rng, [o, f"{_pick(rng, _VERB_DO)}{o}", f"完成{o}", f"{o}数"])
    elif kind < 0.96:
        o, unit = _title(rng), _pick(rng, ["期", "份", "篇", "册", "本", "期", "万份", "次"])
        name = _pick(rng, [f"{o}期刊数量", f"{o}出版期数", f"{o}发行量", f"{o}印刷数量", f"{o}", f"编印{o}",
                           f"{o}刊发稿件", f"{o}专栏", f"{o}{_pick(rng, _OBJ_ITEM)}数量"])
    else:  # a 率 under 数量 (forms do that: 任务完成率, 覆盖率 as a count target)
        name = _pick(rng, ["任务完成率", "计划完成率", "覆盖率", "保障率", "发放率", f"{_pick(rng, _OBJ_PLACE)}覆盖率",
                           f"{_pick(rng, _OBJ_EVENT)}完成率", f"{_pick(rng, _OBJ_PEOPLE)}覆盖率", "实施率"])
        return name, _cmp_pct(rng)
    r = rng.random()
    if r < 0.85:
        value = f"{cmp_}{_n(rng)}{unit}"
    elif r < 0.93:
        value = _pick(rng, _Q["数量指标"])
    else:
        value = str(_n(rng))
    return name, value


def _quality(rng: random.Random, year: int) -> tuple[str, str]:
    rate = _pick(rng, ["合格率", "达标率", "验收合格率", "验收通过率", "覆盖率", "完好率", "准确率", "完成率", "规范率",
                       "使用率", "正确率", "优良率", "通过率", "执行率", "达标情况", "合规性", "合格情况", "质量",
                       "利用率", "到位率", "合格", "完整率", "正常运行率", "成功率", "一次性验收合格率", "采纳率",
                       "办结率", "解决率", "上线率", "在线率", "出勤率", "参训率", "结业率", "知识掌握率", "规范性",
                       "准确性", "完整性", "安全性", "标准", "质量标准", "质量达标率", "审核通过率", "入库率"])
    o = _pick(rng, _OBJ_EVENT + _OBJ_ITEM + _OBJ_PLACE + _TOPIC + _OBJ_PEOPLE + [_title(rng)])
    name = _pick(rng, [f"{o}{rate}", f"{o}{rate}", f"{rate}", f"{_pick(rng, _TOPIC)}{o}{rate}",
                       f"{_pick(rng, _VERB_DO)}{o}{rate}", f"{o}质量{rate if rate.endswith('率') else '达标率'}",
                       f"{o}是否符合标准", f"{o}符合相关规定", f"{o}质量", f"{_pick(rng, _VERB_DO)}{o}质量"])
    r = rng.random()
    if name.endswith(("性", "标准", "规定", "质量", "情况")) and r < 0.6:
        value = _pick(rng, _Q["质量指标"] + _Q_GENERIC)
    elif r < 0.65:
        value = _cmp_pct(rng)
    elif r < 0.85:
        value = "100%"
    else:
        value = _pick(rng, _Q["质量指标"])
    return name, value


def _timeliness(rng: random.Random, year: int) -> tuple[str, str]:
    o = _pick(rng, _OBJ_EVENT + _OBJ_ITEM + _TOPIC + ["资金", "补贴", "项目", "工程", "任务", "工作", "款项", "经费"])
    form = rng.random()
    if form < 0.35:
        name = _pick(rng, ["完成时间", f"{o}完成时间", f"{o}完成时限", "项目完成时间", "实施时间", "实施周期",
                           f"{o}实施期限", "项目实施期限", "资金拨付时间", f"{o}到位时间", f"{o}发放时间",
                           "完成时限", "项目周期", f"{o}周期", "执行期限", "支付时间", "开工时间", "竣工时间",
                           f"{o}截止时间", "验收时间", "资金支付进度"])
        value = _date(rng, year) if rng.random() < 0.75 else _pick(rng, _Q["时效指标"])
    elif form < 0.7:
        name = _pick(rng, [f"{o}及时率", f"{o}及时性", f"{_pick(rng, _VERB_DO)}{o}及时率", f"{_pick(rng, _VERB_DO)}及时率",
                           f"{o}按时完成率", f"{o}按期完成率", "完成及时率", "资金拨付及时率", "资金支付及时率",
                           f"{o}办理时限", f"{o}响应时间", f"{o}处置及时率", f"{o}更新及时性", "按时完成率"])
        value = _cmp_pct(rng) if rng.random() < 0.55 else _pick(rng, _Q["时效指标"])
        if "时限" in name or "响应时间" in name:
            value = _pick(rng, [f"≤{rng.randint(1, 30)}个工作日", f"{rng.randint(1, 72)}小时内", f"≤{rng.randint(1, 60)}min",
                                f"{rng.randint(1, 15)}天内", "及时", f"≤{rng.randint(1, 30)}天"])
    else:
        name = _pick(rng, [f"{o}", f"{_pick(rng, _VERB_DO)}{o}", f"{o}进度", f"{o}时效", f"{o}工作时效",
                           f"{o}每{_pick(rng, ['月', '季度', '半年', '年', '周'])}{_pick(rng, ['开展', '发放', '更新', '报送', '检查'])}",
                           f"按时{_pick(rng, _VERB_DO)}{o}", f"{_date(rng, year)}前完成", f"{year}年{rng.randint(1, 12)}月"])
        value = _pick(rng, [_date(rng, year), _pick(rng, _Q["时效指标"]), "1年", f"{rng.randint(1, 12)}个月"])
    return name, value


def _cost(rng: random.Random, year: int) -> tuple[str, str]:
    o = _pick(rng, _OBJ_EVENT + _OBJ_ITEM + _TOPIC + ["办公", "水电", "差旅", "会议", "租赁", "物业", "印刷", "邮电",
                                                       "车辆运行", "劳务", "咨询", "委托业务", "保洁", "安保", "网络"])
    form = rng.random()
    if form < 0.75:
        name = _pick(rng, [f"{o}费", f"{o}经费", f"{o}成本", f"{o}支出", f"{o}费用", f"{o}补助标准", f"人均{o}费用",
                           f"{o}服务费", f"{o}购置费", f"{o}资金", f"{o}补贴标准", f"{o}单价", f"{o}预算",
                           f"{o}专项经费", f"{o}运行费", f"{o}维护费", "项目总成本", "成本控制", "预算控制数",
                           f"{o}采购成本", f"{o}费用标准", f"{o}经费支出", "资金使用", f"{o}工作经费"])
        value = _money(rng) if rng.random() < 0.85 else _pick(rng, _Q["成本指标"])
    else:
        name = _pick(rng, ["成本控制率", "成本节约率", "预算执行率", "资金使用率", f"{o}成本控制", "成本控制情况",
                           "资金执行率", "预算控制率", f"{o}费用控制", "超预算比例"])
        value = _cmp_pct(rng) if rng.random() < 0.5 else _pick(rng, _Q["成本指标"])
    return name, value


def _economic(rng: random.Random, year: int) -> tuple[str, str]:
    g = _pick(rng, _GROUP + ["农民", "农户", "企业", "集体", "村集体", "脱贫人口"])
    ind = _pick(rng, ["相关产业", "旅游业", "农业", "特色产业", "文化产业", "乡村经济", "地方经济", "区域经济", "就业",
                      "消费", "服务业", "电商", "养殖业", "种植业", "经济"])
    name = _pick(rng, [f"增加{g}收入", f"{g}增收", f"带动{ind}发展", f"促进{ind}发展", f"节约{_pick(rng, _TOPIC)}资金",
                       f"节约{_pick(rng, ['运行', '维护', '办公', '行政', '人力'])}成本", "增加财政收入", "带动就业",
                       f"降低{_pick(rng, ['运行', '生产', '管理', '维修'])}成本", f"拉动{ind}", "经济效益", "吸引投资",
                       f"{g}人均增收", "村集体经济收入", "带动就业人数", f"{ind}产值", "招商引资额",
                       "节约资金", "节省开支", "提高资金使用效益", f"{g}收入水平", "经济收益", "年增收"])
    r = rng.random()
    if r < 0.55:
        value = _pick(rng, _Q["经济效益指标"] + _Q_GENERIC)
    elif r < 0.8:
        value = _money(rng, wan=rng.random() < 0.7)
    elif r < 0.95:
        value = _cmp_pct(rng)
    else:
        value = f"≥{_n(rng)}{_pick(rng, ['人', '户', '个'])}"
    return name, value


def _social(rng: random.Random, year: int) -> tuple[str, str]:
    g = _pick(rng, _GROUP)
    need = _pick(rng, ["生活", "基本生活", "出行", "就医", "就学", "就业", "居住条件", "生产生活条件", "办事体验",
                       "合法权益", "生命财产安全", "文化生活", "健康水平", "获得感", "幸福感", "安全感", "正常运转"])
    lvl = _pick(rng, ["服务水平", "服务能力", "治理水平", "管理水平", "工作效率", "公共服务水平", "保障水平",
                      "业务能力", "综合素质", "文明素养", "安全意识", "法治意识", "健康意识", "知名度", "影响力",
                      "公信力", "形象", "认知度", "参与度", "社会影响力", "宣传效果", "舆论环境", "工作水平"])
    o = _pick(rng, _TOPIC + _OBJ_PLACE)
    name = _pick(rng, [f"提升{lvl}", f"提升{o}{lvl}", f"提高{g}{lvl}", f"保障{g}{need}", f"改善{g}{need}",
                       f"{o}知晓率", f"{_pick(rng, _TOPIC)}政策知晓率", f"社会{_pick(rng, ['影响力', '效益', '关注度'])}",
                       f"增强{g}{_pick(rng, ['意识', '获得感', '安全感', '凝聚力'])}", "维护社会稳定",
                       f"促进{_pick(rng, _TOPIC)}工作", f"营造良好{_pick(rng, ['舆论', '社会', '营商', '学习'])}氛围",
                       f"{o}{lvl}", f"保障{o}{_pick(rng, ['正常运转', '正常开展', '工作顺利开展', '安全'])}",
                       f"推动{o}发展", f"{g}{need}得到改善", f"有效解决{g}{_pick(rng, ['困难', '问题', '需求'])}",
                       f"{lvl}提升", f"对{o}工作的促进作用", f"增强{o}社会效益", f"扩大{o}影响力",
                       f"传播{_pick(rng, ['正能量', '主流声音', '好声音'])}", f"{g}受益情况", f"{o}社会效益"])
    r = rng.random()
    if r < 0.8:
        value = _pick(rng, _Q["社会效益指标"] + _Q_GENERIC)
    elif r < 0.95:
        value = _cmp_pct(rng)
    else:
        value = f"{_pick(rng, ['≥', ''])}{_n(rng)}{_pick(rng, ['人', '户', '家', '人次', '个'])}"
    return name, value


def _ecological(rng: random.Random, year: int) -> tuple[str, str]:
    env = _pick(rng, ["生态", "人居", "村容村貌", "城乡", "水", "大气", "空气", "土壤", "农村", "居住", "办公",
                      "河道", "流域", "自然", "周边"])
    pol = _pick(rng, ["污染物", "二氧化碳", "废水", "废气", "粉尘", "扬尘", "垃圾", "噪音", "化肥使用量",
                      "农药使用量", "白色污染", "碳", "能耗", "水土流失"])
    name = _pick(rng, [f"改善{env}环境", f"{env}环境改善", "绿化覆盖率", f"减少{pol}排放", f"{pol}减少",
                       "节能降耗", "污染防治", "空气质量优良天数比例", "水质达标率", "生活垃圾无害化处理率",
                       "森林覆盖率", "节约用水", "节约用电", "生态保护", "植被恢复", "林草覆盖率",
                       f"{env}环境质量", "节能减排", f"降低{pol}", "污水处理率", "垃圾分类覆盖率",
                       "对生态环境的改善", "环境卫生状况", "绿色发展", "资源节约", "秸秆综合利用率",
                       "畜禽粪污综合利用率", "低碳环保", "无纸化办公", "生态效益", f"{env}生态效益"])
    r = rng.random()
    if r < 0.6:
        value = _pick(rng, _Q["生态效益指标"] + _Q_GENERIC)
    else:
        value = _cmp_pct(rng)
    return name, value


def _sustainable(rng: random.Random, year: int) -> tuple[str, str]:
    o = _pick(rng, _TOPIC + _OBJ_ITEM + _OBJ_PLACE)
    name = _pick(rng, ["长效机制", f"{o}长效管理机制", "长效管理机制", "持续发挥作用", "项目持续发挥作用年限",
                       "可持续发展", f"{o}持续运行", f"建立健全{o}制度", f"对{o}的长期影响", f"{o}长效机制",
                       f"{o}可持续性", "工作可持续性", f"持续{_pick(rng, ['提升', '推进', '改善', '发挥', '维护'])}{o}",
                       f"{o}使用年限", "设备使用年限", f"{o}持续发挥效益", "制度建设", f"{o}管理制度健全性",
                       f"长期开展{o}", f"{o}可持续影响", "可持续影响", f"{o}常态化", f"{o}后续管护",
                       "运行维护机制", f"{o}长期稳定运行", f"持续{_pick(rng, ['增强', '扩大'])}{o}影响"])
    r = rng.random()
    if "年限" in name and r < 0.8:
        value = f"{_pick(rng, ['≥', '', '≥'])}{rng.randint(1, 20)}年"
    elif r < 0.85:
        value = _pick(rng, _Q["可持续影响指标"] + ["有效", "良好", "明显"])
    else:
        value = _pick(rng, [f"{rng.randint(1, 10)}年", "长期", f"≥{rng.randint(1, 10)}年", _cmp_pct(rng)])
    return name, value


def _satisfaction(rng: random.Random, year: int) -> tuple[str, str]:
    g = _pick(rng, _GROUP)
    svc = _pick(rng, _TOPIC + _OBJ_EVENT + ["服务", "工作", "项目实施", "服务质量", "工作成效", _title(rng)])
    name = _pick(rng, [f"{g}满意度", f"{g}满意度", f"{g}满意率", "服务对象满意度", f"{g}对{svc}的满意度",
                       f"{g}对{svc}满意度", f"{svc}满意度", f"{svc}{g}满意度", "满意度", "群众满意度",
                       f"{g}满意程度", f"{g}、{_pick(rng, _GROUP)}满意度", f"{svc}服务满意度", f"{_title(rng)}{g}满意度"])
    r = rng.random()
    if r < 0.75:
        value = f"{_pick(rng, ['≥', '≥', '≥', '>', '＞', ''])}{_pick(rng, [80, 85, 90, 90, 95, 95, 96, 98, 99])}%"
    elif r < 0.9:
        value = _cmp_pct(rng)
    else:
        value = _pick(rng, _Q["服务对象满意度指标"] + ["≥90%", "较高"])
    return name, value


def _economic_cost(rng: random.Random, year: int) -> tuple[str, str]:
    o = _pick(rng, _TOPIC + _OBJ_ITEM + _OBJ_EVENT)
    name = _pick(rng, ["项目总成本", f"{o}成本", f"{o}经济成本", "人员成本", "设备购置成本", "运行维护成本",
                       f"{o}费用", f"{o}费", f"{o}经费", "经济成本", f"{o}总投资", "资金投入", f"{o}支出",
                       "项目预算", f"{o}单位成本", f"{o}采购成本", "成本控制"])
    value = _money(rng) if rng.random() < 0.85 else _pick(rng, _Q["经济成本指标"])
    return name, value


def _social_cost(rng: random.Random, year: int) -> tuple[str, str]:
    name = _pick(rng, ["社会成本", "对社会造成的负面影响", "社会风险", "群众投诉", "社会负面影响", "负面舆情",
                       "对社会的不良影响", "社会稳定风险", "群体性事件", "投诉率", "对群众生活的影响",
                       f"{_pick(rng, _TOPIC)}社会成本", "社会成本控制", "安全事故"])
    value = _pick(rng, _Q["社会成本指标"]) if rng.random() < 0.85 else _pick(rng, ["0起", "0次", "≤1%", "0%"])
    return name, value


def _eco_cost(rng: random.Random, year: int) -> tuple[str, str]:
    name = _pick(rng, ["生态环境成本", "环境污染", "对生态环境的影响", "资源消耗", "生态破坏", "环境成本",
                       "对环境造成的影响", "生态环境影响", "能源消耗", "环境污染情况", "碳排放",
                       f"{_pick(rng, _TOPIC)}生态环境成本", "生态环境成本控制"])
    value = _pick(rng, _Q["生态环境成本指标"]) if rng.random() < 0.85 else _pick(rng, ["0", "0吨", "≤0", "0%"])
    return name, value


GENERATORS: dict[str, Callable[[random.Random, int], tuple[str, str]]] = {
    "数量指标": _quantity, "质量指标": _quality, "时效指标": _timeliness, "成本指标": _cost,
    "经济效益指标": _economic, "社会效益指标": _social, "生态效益指标": _ecological, "可持续影响指标": _sustainable,
    "服务对象满意度指标": _satisfaction,
    "经济成本指标": _economic_cost, "社会成本指标": _social_cost, "生态环境成本指标": _eco_cost,
}


_PLACE_WORDS = ["全市", "全县", "全区", "本地", "我市", "我县", "示范区", "开发区", "园区", "辖区", "全省", "乡村"]


def neutral_name(rng: random.Random) -> str:
    """A 三级 text that names the work but not what is measured (a project description, often cut
    at the cell edge): the row's category then shows only in its 指标值."""
    t, o = _pick(rng, _TOPIC), _pick(rng, _OBJ_EVENT + _OBJ_ITEM + _OBJ_PLACE + _OBJ_PEOPLE)
    v = _pick(rng, _VERB_DO + ["推进", "落实", "加强", "做好", "围绕", "依托", "利用", "通过", "结合", "实施"])
    w = _pick(rng, _PLACE_WORDS)
    return _pick(rng, [f"{v}{t}{o}", f"{w}{t}{o}", f"{v}{w}{o}", f"{t}{o}", f"{w}{v}{t}工作", f"{v}{t}工作",
                       f"{t}项目", f"{w}{t}", f"{o}{v}", f"{v}{o}，{_pick(rng, _VERB_DO)}{t}", f"{t}、{o}",
                       f"在{w}{v}{o}", f"{_pick(rng, _GROUP)}{v}{o}", f"{t}{o}{v}工作"])


# how often a category's 三级 text is a neutral description: satisfaction rows nearly always say 满意
_P_NEUTRAL = {"服务对象满意度指标": 0.02, "社会成本指标": 0.05, "生态环境成本指标": 0.05, "数量指标": 0.12,
              "质量指标": 0.1, "时效指标": 0.1, "成本指标": 0.08}


def kpi_row(rng: random.Random, l2: str, year: int = 2024, p_neutral: Optional[float] = None) -> tuple[str, str]:
    """(三级指标, 指标值) of one row of 二级 category ``l2`` (a canonical 二级 name); with probability
    ``p_neutral`` (default: per category) the 三级 text is a neutral description (``neutral_name``)."""
    name, value = GENERATORS[l2](rng, year)
    if p_neutral is None:
        p_neutral = _P_NEUTRAL.get(l2, 0.15)
    if value and rng.random() < p_neutral:
        name = neutral_name(rng)
    r = rng.random()
    if r < 0.04:
        value = _pick(rng, _Q_GENERIC)             # a vague target
    elif r < 0.06:
        value = ""                                 # target left empty
    return name, value


def _l2_text(rng: random.Random, l2: str, style: str) -> str:
    """How a form prints the 二级 name: full, without 指标, or the satisfaction name cut."""
    if style == "full":
        return l2
    if l2 == "服务对象满意度指标":
        return _pick(rng, ["服务对象满意度", "服务对象满意度指", "服务对象满意度指标"])
    return l2[:-2]


def kpi_table_rows(rng: random.Random, year: int = 2024) -> list[dict]:
    """One generated KPI table, left half: [dict(l1, l2, l2_text, l3, value)] with the 二级 text as
    printed on every row of its merged run (the caller decides what OCR makes of it)."""
    new_cost = year >= 2022 and rng.random() < 0.3
    spec = [("产出指标", ["数量指标", "质量指标", "时效指标"] + ([] if new_cost else ["成本指标"]))]
    if new_cost:
        spec.append(("成本指标", ["经济成本指标", "社会成本指标", "生态环境成本指标"]))
    spec += [("效益指标", ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"]),
             ("满意度指标", ["服务对象满意度指标"])]
    include = {"数量指标": 0.97, "质量指标": 0.9, "时效指标": 0.85, "成本指标": 0.85, "经济效益指标": 0.35,
               "社会效益指标": 0.9, "生态效益指标": 0.25, "可持续影响指标": 0.7, "服务对象满意度指标": 0.95,
               "经济成本指标": 0.95, "社会成本指标": 0.7, "生态环境成本指标": 0.7}
    n_max = {"数量指标": 5, "质量指标": 3, "时效指标": 2, "成本指标": 3, "社会效益指标": 3, "可持续影响指标": 2,
             "服务对象满意度指标": 2}
    style = "full" if rng.random() < 0.6 else "short"
    rows = []
    for l1, l2s in spec:
        for l2 in l2s:
            if rng.random() > include[l2]:
                continue
            k = rng.randint(1, n_max.get(l2, 1))
            l2t = _l2_text(rng, l2, style)
            for _ in range(k):
                l3, v = kpi_row(rng, l2, year)
                rows.append(dict(l1=l1, l2=l2, l2_text=l2t, l3=l3, value=v))
    return rows
