"""Traditional characters read as simplified, for matching only.

A document in traditional script (國務院、負責、牽頭、按職責分工) must be read by the same rules
as one in simplified script. :func:`to_simplified` maps every traditional character of the
table below to its simplified form, one character for one, so a position in the simplified
text is the same position in the text as written; :func:`restore` uses that to give back what
was written. Only characters that simplified text does not use are mapped (a test checks each
against GB2312, see :data:`GB2312_EXCEPTIONS`), so a simplified document passes through
unchanged.

The table covers the vocabulary of policy documents: the names of ministries, people's
organisations and enterprises, role words, structure words and deadline phrases. A character
missing from it only costs a body or a word that is not recognised, and the reviewer sees it.
"""

from __future__ import annotations

# Pairs "traditional simplified", grouped loosely by subject.
_PAIRS = """
國国 務务 負负 責责 牽牵 頭头 職职 單单 門门 開开 發发 為为 爲为 關关 於于 與与 會会 議议 辦办
廳厅 處处 區区 縣县 鄉乡 鎮镇 業业 廠厂 產产 資资 財财 稅税 貿贸 銀银 錢钱 鐵铁 鋼钢 電电 網网
氣气 煉炼 礦矿 環环 護护 質质 檢检 監监 衛卫 醫医 藥药 療疗 體体 書书 畫画 報报 紙纸 聞闻 廣广
視视 聽听 說说 話话 語语 讀读 寫写 譯译 認认 識识 證证 詢询 詳详 請请 調调 諮咨 論论 設设 計计
記记 訂订 訊讯 許许 評评 試试 詞词 該该 誤误 諾诺 謀谋 謝谢 講讲 謹谨 譽誉 讓让 變变 動动 勞劳
勵励 勢势 協协 華华 廢废 應应 間间 閱阅 閉闭 問问 際际 陳陈 陸陆 陽阳 隊队 階阶 隨随 險险 隱隐
雜杂 離离 難难 雲云 靈灵 頁页 頂顶 項项 順顺 須须 預预 頓顿 領领 頻频 題题 額额 願愿 類类 顧顾
風风 飛飞 飯饭 飲饮 館馆 餘余 馬马 駐驻 驗验 騰腾 鬥斗 鳥鸟 麥麦 黃黄 齊齐 齡龄 龍龙 經经 濟济
構构 機机 權权 標标 樣样 檔档 條条 來来 東东 樂乐 樓楼 歐欧 歲岁 歷历 殘残 決决 沒没 況况 測测
淺浅 湯汤 溝沟 滅灭 滿满 漢汉 潔洁 濕湿 災灾 無无 營营 燈灯 爭争 爾尔 牆墙 獎奖 獨独 獲获 現现
畝亩 畢毕 異异 當当 疊叠 盡尽 盤盘 盧卢 眾众 衆众 礎础 確确 碼码 礙碍 禮礼 禍祸 種种 穩稳 積积
稱称 窮穷 競竞 筆笔 節节 範范 築筑 簡简 籌筹 簽签 籤签 糧粮 級级 紀纪 約约 紅红 納纳 純纯 細细
終终 組组 結结 給给 絡络 統统 絲丝 綜综 綠绿 維维 緊紧 線线 綫线 練练 總总 績绩 織织 續续 罰罚
罷罢 義义 習习 聯联 聲声 肅肃 脅胁 腦脑 腳脚 膽胆 臨临 興兴 舉举 舊旧 艱艰 藝艺 莊庄 萬万 葉叶
蓋盖 蘇苏 號号 虧亏 蟲虫 術术 衝冲 補补 裝装 製制 複复 襲袭 見见 規规 親亲 覺觉 覽览 觀观 討讨
訓训 託托 訪访 診诊 註注 詐诈 詩诗 誠诚 誌志 課课 談谈 諸诸 貝贝 貢贡 貧贫 貨货 販贩 貴贵 貸贷
費费 賠赔 賣卖 賞赏 購购 賽赛 贈赠 趕赶 趨趋 跡迹 蹤踪 車车 軍军 軟软 載载 輕轻 較较 輔辅 輸输
農农 這这 連连 進进 運运 過过 達达 違违 遠远 適适 遲迟 選选 遺遗 還还 邊边 鄰邻 釋释 針针 鋪铺
錄录 錯错 鍵键 鏈链 鐘钟 長长 閒闲 閘闸 隸隶 雖虽 雙双 靜静 響响 頒颁 顯显 養养 駕驾 髮发 鬧闹
魚鱼 鮮鲜 鹽盐 麼么 黨党 點点 億亿 價价 儀仪 優优 償偿 儲储 傳传 傷伤 傾倾 僅仅 備备 個个 們们
倉仓 側侧 偉伟 係系 兩两 內内 冊册 凍冻 劃划 劇剧 劉刘 創创 則则 剛刚 勝胜 卻却 厲厉 參参 叢丛
啟启 員员 喪丧 嚴严 囑嘱 圍围 圓圆 圖图 團团 執执 堅坚 場场 塊块 塵尘 壓压 壞坏 壯壮 壽寿 夠够
夢梦 奪夺 奮奋 婦妇 學学 寧宁 實实 審审 寬宽 寶宝 將将 專专 尋寻 對对 導导 層层 屬属 島岛 嶺岭
幣币 師师 帳帐 帶带 幫帮 幹干 庫库 彈弹 彙汇 徑径 從从 復复 恥耻 惡恶 愛爱 態态 慣惯 慶庆
憂忧 憑凭 憲宪 懷怀 懸悬 戰战 戲戏 戶户 拋抛 捨舍 掃扫 掛挂 採采 揚扬 換换 損损 搖摇 搶抢 撥拨
撫抚 擁拥 擇择 擊击 擔担 據据 擠挤 擬拟 擴扩 攝摄 敗败 敵敌 數数 斷断 時时 晉晋 暢畅 暫暂 曆历
曉晓 棄弃 業业 極极 榮荣 槍枪 樞枢 樹树 橋桥 櫃柜 歡欢 殺杀 毀毁 漲涨 滯滞 漁渔 潛潜 澤泽 濱滨
灣湾 烏乌 煙烟 熱热 燒烧 爐炉 犧牺 狀状 獄狱 獻献 瓊琼 疇畴 盜盗 碩硕 禦御 穀谷 竊窃 糾纠
紡纺 紛纷 紐纽 紹绍 絕绝 綱纲 緒绪 編编 緣缘 縮缩 縱纵 繩绳 繪绘 繳缴 纖纤 羅罗 聖圣 聰聪 脫脱
臟脏 艦舰 蘭兰 虛虚 補补 襯衬 覓觅 訴诉 誇夸 誕诞 誘诱 諒谅 諧谐 謠谣 譜谱 豐丰 豬猪 貪贪 貫贯
賀贺 賃赁 賓宾 賦赋 賬账 賴赖 贊赞 讚赞 贏赢 趙赵 躍跃 軌轨 軸轴 輪轮 輯辑 轉转 辭辞 邏逻 郵邮
鄭郑 釀酿 銳锐 銷销 鋒锋 錦锦 鍊炼 鍋锅 鎖锁 鑄铸 鑑鉴 鑒鉴 閃闪 閣阁 闊阔 闡阐 陣阵 陰阴 鞏巩
韋韦 韻韵 頃顷 頗颇 顆颗 顛颠 颱台 臺台 檯台 飄飘 飢饥 饑饥 飽饱 餓饿 駛驶 騎骑 騙骗 驅驱 驚惊
髒脏 鬆松 魯鲁 鳳凤 鳴鸣 鴻鸿 鵬鹏 麗丽 黴霉 齒齿 龜龟 鑽钻 釘钉 鈔钞 鈴铃 鉛铅 銅铜 鋁铝 鋅锌
錫锡 鍍镀 鎳镍 鑛矿 兌兑 擱搁 擺摆 攤摊 攜携 鬱郁 薦荐 蘋苹 蔣蒋 薩萨 藍蓝 蓮莲 蔥葱 蝦虾 蠶蚕
懲惩 債债 徹彻 強强 遞递 遊游 匯汇 別别 園园 僑侨 輿舆 噸吨 併并 崗岗 貼贴 屆届 歸归 遷迁 轄辖
後后 裡里 裏里 準准 週周 麵面 捲卷 迴回 佈布 僱雇 嚮向 衛卫 謂谓 諮咨 勸劝 歎叹 櫥橱 穫获 鐘钟
濫滥 瀕濒 灑洒 曬晒 漿浆 熒荧 螢萤 瑩莹 撈捞 澇涝 劑剂 濟济 齋斋 寢寝 鋸锯 鑰钥 闖闯 閩闽 閥阀
閑闲 闢辟 隻只 騷骚 驟骤 鬍胡 鹼碱 龐庞 凱凯 剝剥 勻匀 區区 滬沪 瀋沈 遼辽 黑黑 蒙蒙 晉晋 冀冀
陝陕 隴陇 蘇苏 贛赣 閩闽 粵粤 桂桂 瓊琼 渝渝 貴贵 雲云 藏藏 寧宁 疆疆 台台 澳澳 門门 港港
創创 檢检 驗验 測测 監监 衛卫 腫肿 臉脸 驗验 鏡镜 鐘钟 鑼锣 綁绑 繫系 纜缆 紮扎 紀纪 緩缓 縣县
嚇吓 嘩哗 噴喷 嚨咙 囂嚣 墜坠 壇坛 壩坝 墾垦 奧奥 奬奖 嬰婴 孫孙 寵宠 寫写 屍尸 屜屉 嶼屿 巒峦
幟帜 廂厢 廈厦 廚厨 廟庙 廠厂 彎弯 彌弥 徠徕 慘惨 慚惭 憐怜 憤愤 懇恳 懶懒 戀恋 拋抛 揀拣 撲扑
撐撑 擋挡 擾扰 攏拢 攔拦 敘叙 斃毙 暈晕 暉晖 曠旷 權权 欄栏 氈毡 沖冲 淚泪 淪沦 渦涡 渙涣 滲渗
滷卤 漬渍 潰溃 澀涩 瀉泻 瀝沥 瀟潇 爺爷 犢犊 猻狲 獸兽 瑣琐 瓏珑 甌瓯 癥症 瘡疮 癢痒 皺皱 盞盏
瞞瞒 矯矫 磚砖 礪砺 禱祷 禿秃 稈秆 穌稣 窪洼 窯窑 竇窦 籠笼 粧妆 糞粪 糧粮 緝缉 縫缝 纏缠 罈坛
羥羟 翹翘 聳耸 職职 脹胀 膩腻 膠胶 艙舱 荊荆 莖茎 蒞莅 蔔卜 蕭萧 藪薮 蘆芦 虜虏 螞蚂 蠅蝇 補补
覈核 訟讼 詛诅 誼谊 諜谍 謊谎 譏讥 譴谴 貞贞 賤贱 賭赌 賺赚 贓赃 贖赎 跡迹 踐践 蹕跸 軀躯 輛辆
輩辈 轎轿 辦办 遜逊 遙遥 邁迈 醞酝 醬酱 釣钓 鈍钝 鉤钩 銜衔 鋤锄 鋸锯 錘锤 鍛锻 鎊镑 鏟铲 鐮镰
鑲镶 閨闺 闆板 闈闱 闔阖 闕阙 阨厄 隕陨 雋隽 雛雏 霧雾 靄霭 韌韧 頰颊 頸颈 顫颤 颳刮 餅饼 餡馅
饅馒 驢驴 驪骊 骯肮 鬚须 鯉鲤 鯨鲸 鴉鸦 鴨鸭 鵝鹅 鶴鹤 鷹鹰 鹵卤 麩麸 黷黩 鼴鼹 齣出 龕龛
"""


GB2312_EXCEPTIONS = frozenset("於後")
"""Traditional forms that GB2312 also holds (as rare surnames), mapped all the same: 落後 and
關於 are how traditional documents write 落后 and 关于, and simplified documents do not use
them."""


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for pair in _PAIRS.split():
        traditional, simplified = pair[0], pair[1]
        if traditional != simplified:  # a few regional names are written the same way
            table[ord(traditional)] = simplified
    return table


TRADITIONAL_TO_SIMPLIFIED: dict[int, str] = _build_table()
"""``str.translate`` table: code point of a traditional character -> its simplified form."""


def to_simplified(text: str) -> str:
    """``text`` with every traditional character of the table simplified; same length."""
    return text.translate(TRADITIONAL_TO_SIMPLIFIED)


def is_traditional(text: str) -> bool:
    """Whether ``text`` holds any character of the table."""
    return to_simplified(text) != text


def restore(fragment: str, simplified: str, written: str) -> str:
    """The text as written for ``fragment``, a piece of ``simplified``.

    ``simplified`` is ``to_simplified(written)``, so the piece at the same position of
    ``written`` is what was written; a fragment not found there is returned unchanged.
    """
    if simplified == written or not fragment:
        return fragment
    index = simplified.find(fragment)
    if index < 0 or len(simplified) != len(written):
        return fragment
    return written[index:index + len(fragment)]
