// The page's words: Chinese by default, English when chosen.  The Chinese
// text is the key, so the code reads as the page does; a phrase missing
// below shows in Chinese.  Text from the network is never translated.
const EN = {
  "邻里守望": "Neighbourhood watch",
  // residents: the outbox, the content rules (content.js)
  "等待发送：节点连上后自动发送": "Waiting to send: it goes when the node answers",
  "已保存，等待发送": "Saved; waiting to send",
  "内容不符合规则：": "it breaks the rules: ",
  "缺少「%key」": "'%key' is missing",
  "「%key」的类型不对": "'%key' has the wrong type",
  "「%key」只能是：%list": "'%key' must be one of: %list",
  "「%key」是空的": "'%key' is empty",
  "「%key」有 %n 字节，只能是 %min-%max 字节": "'%key' is %n bytes; %min-%max allowed",
  "「%key」只能写一行": "'%key' must be one line",
  "「%key」含有回车符": "'%key' holds a carriage return",
  "「%key」含有控制字符（%char）": "'%key' holds a control character (%char)",
  "没有指明回应的是哪条消息": "it does not say what it answers",
  // residents: the key, its backup and restore (main.js keyPanel, backup.js)
  "我的密钥": "My key",
  "申请居民证书": "Ask for a resident certificate",
  "请派出所的警官扫描下面的二维码（或核对这串公钥），为这台手机发居民证书。":
    "Ask an officer at the station to scan this QR code (or check this public key) to certify this phone as a resident's.",
  "备份": "Backup",
  "恢复": "Restore",
  "设一个口令（至少 %n 个字）": "Choose a passphrase (at least %n characters)",
  "再输一次口令": "The passphrase again",
  "下载备份文件": "Download a backup file",
  "打印二维码": "Print a QR code",
  "正在加密…": "Encrypting…",
  "正在解密…": "Decrypting…",
  "已备份。请把文件或二维码和口令分开保管。": "Backed up. Keep the file or the QR code apart from the passphrase.",
  "两次输入的口令不一样": "The two passphrases differ",
  "口令至少要 %n 个字": "The passphrase needs at least %n characters",
  "备份文件或二维码照片": "Backup file, or a photo of the QR code",
  "备份时设的口令": "The backup's passphrase",
  "恢复密钥": "Restore the key",
  "用相机扫描二维码": "Scan the QR code with the camera",
  "已扫描到密钥二维码，请输入口令后恢复": "QR code read: enter the passphrase and restore",
  "一分钟内没有认出密钥二维码": "No key QR code seen in a minute",
  "请先选择备份文件或二维码照片，或用相机扫描": "First choose a backup file or a photo of the QR code, or scan it",
  "请选择密钥备份文件，或密钥二维码的照片": "Choose a key backup file, or a photo of the key's QR code",
  "这台手机已有另一把密钥，恢复会替换它（一台手机只用一把密钥）。确定替换，请再按一次恢复。":
    "This phone has another key; restoring replaces it (one key per phone). To replace it, press restore again.",
  "密钥已恢复": "Key restored",
  "这不是邻里守望的密钥备份": "This is not a neighbourhood watch key backup",
  "这个密钥备份已损坏，或来自更新的版本": "This key backup is damaged, or from a newer version",
  "口令不对（或备份被改动过），密钥没有恢复": "Wrong passphrase (or a changed backup): the key was not restored",
  "照片里没有认出二维码，请拍清楚整个二维码再试": "No QR code found in the photo: take the whole code, sharp, and try again",
  "邻里守望 · 密钥备份": "Neighbourhood watch · key backup",
  "用这张二维码和您的口令，可以在新手机上恢复您的密钥。没有口令，二维码打不开。请收好，不要拍照发给别人。":
    "With this QR code and your passphrase you can restore your key on a new phone; without the passphrase it does not open. Keep it safe and send no photo of it to anyone.",
  "关闭": "Close",
  "选择您的社区": "Choose your community",
  "这个网络还没有社区": "This network has no community yet",
  "切换社区": "Change",
  "开启警报通知": "Turn on alert notifications",
  "已开启警报通知": "Alert notifications are on",
  "警报通知已被浏览器关闭，可在浏览器的网站设置里开启": "The browser blocks alert notifications; its site settings can allow them",
  "搜索": "Search",
  "搜索结果": "Search results",
  "没有找到": "Nothing found",
  "正在进行的警报": "Active alerts",
  "社区动态": "Community feed",
  "还没有消息": "No posts yet",
  "发送求助": "Ask for help",
  "公开发送求助": "Send publicly",
  "请描述您需要的帮助（会公开显示，请勿写电话、身份证号）":
    "Describe the help you need (shown to everyone: no phone or ID numbers)",
  "回复": "Reply",
  "公开回复": "Reply publicly",
  "您的线索或回答（会公开显示）": "Your lead or answer (shown to everyone)",
  "回复：": "Reply to: ",
  "正在发送…": "Sending…",
  "已发送": "Sent",
  "已回复": "Replied",
  "发送失败：": "Not sent: ",
  "（发送失败：": " (not sent: ",
  "）": ")",
  "派出所 ": "Station ",
  "警官 ": "Officer ",
  "用户 ": "User ",
  "照片": "Photo",
  "（已撤回）": "(withdrawn)",
  "已结束": "ended",
  "求助 · ": "Request · ",
  "状态：": "Status: ",
  "⚠ 发布者不是本社区的警官，内容未经核实": "⚠ Not posted by an officer of this community: unverified",
  " 条消息未通过校验，已隐藏": " posts failed their checks and are hidden",
  "出错了：": "Something went wrong: ",
  "这个页面已绑定另一个网络的根密钥，链接中的根密钥未采用":
    "This page is bound to another network's root key; the key in the link was not taken",
  "这个节点的证书来自多个根密钥，请用派出所给的链接打开":
    "This node's certificates come from several root keys: open the link your station gave you",
  "这个节点还没有派出所证书": "This node has no station certificate yet",
  "这个节点没有本网络根密钥签发的证书": "This node has no certificate from the network's root key",
  "内容含有个人信息（": "The text holds personal data (",
  "），会公开给社区所有人看到。请删除后再发送；确需公开，请再按一次发送。":
    "), which everyone in the community would see. Remove it; to publish it anyway, press send again.",
  "还剩 %h 小时 %m 分": "%h h %m min left",
  "还剩 %m 分钟": "%m min left",
  "，": ", ",
  "English": "中文",
  // the feed's sync and window (main.js loadFeed, feedView)
  "正在核对新消息：已核对 %n 条": "Checking new posts: %n checked",
  "连不上节点，显示的是这台手机保存的内容": "The node does not answer: this is what the phone kept",
  "显示更早的消息（还有 %n 条）": "Show older posts (%n more)",
};

// Sealed requests and the officers' pages (seal.js, officer.js, station.js).
Object.assign(EN, {
  "加密发送求助": "Send sealed",
  "公开发送（社区所有人都能看到）": "Send publicly (everyone in the community sees it)",
  "请描述您需要的帮助（加密，只有本社区的警官能看到）": "Describe the help you need (sealed: only this community's officers read it)",
  "这个社区还没有警官的证书，无法加密发送；可以选择公开发送":
    "This community has no officer's certificate yet, so nothing can be sealed to them; you can send publicly",
  "这个社区有 %n 位警官，一个加密求助最多发给 %m 位": "This community has %n officers; a sealed request goes to %m at most",
  "加密内容未通过校验：": "Sealed content refused: ",
  "🔒 私密": "🔒 Private",
  "🔒 ": "🔒 ",
  "[加密求助，%n 位收件人]": "[sealed request to %n recipients]",
  "[加密回复，%n 位收件人]": "[sealed reply to %n recipients]",
  "[转介材料已加密，%n 位收件人]": "[sealed referral to %n recipients]",
  "[加密求助，不是发给您的]": "[sealed request, not to you]",
  "[加密求助]": "[sealed request]",
  "警官入口": "Officers",
  "密钥文件的口令": "The key file's passphrase",
  "正在解锁…": "Unlocking…",
  "正在解锁… %p%": "Unlocking… %p%",
  "无法解锁：": "Cannot unlock: ",
  "这不是密钥文件（太大）": "This is not a key file (too large)",
  "解锁": "Unlock",
  "锁定": "Lock",
  "导入您的密钥文件。解锁后的密钥只保存在本页面的内存中，15 分钟无操作自动锁定。":
    "Import your key file. Once unlocked, the key is kept in this page's memory only and locked again after 15 minutes idle.",
  "已解锁：": "Unlocked: ",
  "您的其他社区：": "Your other communities: ",
  "已解锁，但这把密钥不是本社区的警官：": "Unlocked, but this key is not an officer of this community: ",
  "待处理的求助": "Open requests",
  "没有待处理的求助": "No open requests",
  "已回应": "answered",
  "未回应": "unanswered",
  "处理": "Handle",
  "处理：": "Handling: ",
  "回复求助人": "Reply to the resident",
  "转介给（如 新华村人民调解委员会）": "Referred to (e.g. the village mediation committee)",
  "对方的公钥（64 位十六进制）或证书名称": "Their public key (64 hex digits) or certificate name",
  "备注（公开）": "Note (public)",
  "更新状态": "Set status",
  "请写明转介给谁": "Say whom it is referred to",
  "这条加密求助无法打开，不能加密回复": "This sealed request does not open here, so no sealed reply",
  "这条加密求助无法打开，不能转介": "This sealed request does not open here, so it cannot be referred",
  "有多个证书叫这个名字，请填公钥": "Several certificates have this name: give the public key",
  "转介需要对方的公钥（64 位十六进制）或证书名称": "A referral needs the office's public key (64 hex digits) or certificate name",
  "发布": "Post",
  "公告": "Bulletin",
  "警报": "Alert",
  "标题": "Title",
  "内容": "Text",
  "范围（如 新华村）": "Area (e.g. Xinhua village)",
  "更新正在进行的警报：": "Update a running alert: ",
  "（新警报）": "(a new alert)",
  "有效小时数：": "Hours it runs: ",
  "照片：": "Photo: ",
  "请填写警报范围": "Give the alert's area",
  "有效时间为 1 到 720 小时": "An alert runs 1 to 720 hours",
  "照片无法缩小到 48 KiB": "The photo cannot be made to fit 48 KiB",
  "已发布": "Posted",
  "警报回应": "Responses to alerts",
  "没有正在进行的警报": "No running alerts",
  "：": ": ",
  "%n 位居民回应": "%n residents responded",
  "派出所统计": "Station figures",
  "还没有数据": "No data yet",
  "每月求助（按类别）": "Requests per month, by topic",
  "每月求助（按结果）": "Requests per month, by outcome",
  "首次回应时间（中位数，分钟）": "Time to first answer (median, minutes)",
  "公告（按类别）": "Bulletins by category",
  "加密": "sealed",
  "待处理": "open",
  "分钟": "minutes",
});

// Answers kept after their alert; one inbox for an officer's communities.
Object.assign(EN, {
  "警报结束后仍保留 30 天": "Keep it 30 days, after the alert ends too",
  "全部社区": "All communities",
});

// Labels of enumerations: value -> [Chinese, English].
export const LABELS = {
  topic: { police: ["治安求助", "Police"], "non-police": ["非警务求助", "Non-police"], dispute: ["纠纷调解", "Dispute"],
    "lost-found": ["失物招领", "Lost and found"], other: ["其他", "Other"] },
  severity: { Extreme: ["特别严重", "Extreme"], Severe: ["严重", "Severe"], Moderate: ["较重", "Moderate"],
    Minor: ["一般", "Minor"], Unknown: ["未知", "Unknown"] },
  category: { fraud: ["防诈骗", "Fraud"], safety: ["安全", "Safety"], traffic: ["交通", "Traffic"],
    weather: ["天气", "Weather"], notice: ["通知", "Notice"], "lost-found": ["失物招领", "Lost and found"],
    other: ["其他", "Other"] },
  state: { acknowledged: ["已受理", "Acknowledged"], assigned: ["已指派", "Assigned"], referred: ["已转介", "Referred"],
    resolved: ["已解决", "Resolved"], closed: ["已关闭", "Closed"] },
  ack: { seen: ["已看到", "Seen"], helping: ["我能帮忙", "I can help"], found: ["已找到", "Found"] },
  pii: { "mobile number": ["手机号", "mobile number"], "resident ID number": ["身份证号", "resident ID number"],
    "bank card number": ["银行卡号", "bank card number"] },
};

let english = false;

export function setEnglish(on) {
  english = on;
  document.documentElement.lang = on ? "en" : "zh-CN";
}

export function isEnglish() {
  return english;
}

// The phrase in the page's language; %name in it replaced from args.
export function t(zh, args = {}) {
  const s = english && Object.prototype.hasOwnProperty.call(EN, zh) ? EN[zh] : zh;
  return s.replace(/%([a-z]+)/g, (m, k) => (Object.prototype.hasOwnProperty.call(args, k) ? String(args[k]) : m));
}

// The label of an enumeration's value, or the value itself when it is not
// one we know ("constructor" is no label, whatever Object's prototype says).
export function label(kind, v) {
  const l = LABELS[kind];
  return typeof v === "string" && Object.prototype.hasOwnProperty.call(l, v) ? l[v][english ? 1 : 0] : typeof v === "string" ? v : "";
}

export function locale() {
  return english ? "en-GB" : "zh-CN";
}
