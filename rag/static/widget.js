/*! govrag <govrag-chat> widget | Apache-2.0 | no dependencies, no external requests.
 * Embed: <script src="(api-base)/widget.js" defer></script> <govrag-chat api-key="..."></govrag-chat>
 * Signed-in officers: token="..." or token-provider="fnName" (or el.tokenProvider = fn) instead of api-key.
 * Documented in docs/widget.md. Document and answer text is only ever inserted as text nodes. */
(() => {
  'use strict';
  const VERSION = '0.1.0';
  const TAG = 'govrag-chat';
  if (!window.customElements || customElements.get(TAG)) return;

  // api-base defaults to the folder the script was served from, so the embed snippet needs no URL twice.
  const SCRIPT_SRC = document.currentScript && document.currentScript.src;
  const DEFAULT_BASE = (() => {
    try { return new URL('.', SCRIPT_SRC || location.href).href; } catch (_) { return ''; }
  })();
  const HISTORY_TURNS = 8, HISTORY_CHARS = 3000, KEEP = 60, MAX_Q = 2000;

  // ---- UI strings (11 languages). {n} is replaced by a number. ---------------------------------------
  const K = ['title', 'launch', 'close', 'placeholder', 'question', 'send', 'stop', 'reset', 'welcome',
    'thinking', 'stopped', 'refused', 'refusedHint', 'unverified', 'sources', 'source', 'openSource', 'page',
    'section', 'language', 'quote', 'feedbackAsk', 'up', 'down', 'comment', 'sendComment', 'thanks',
    'feedbackFailed', 'rateLimit', 'rateLimitSoon', 'error', 'server', 'network', 'cutOff', 'denied', 'you',
    'bot', 'log'];
  const RAW = {
    en: ['Document assistant', 'Ask a question', 'Close', 'Type your question…', 'Your question', 'Send',
      'Stop', 'New conversation',
      'Ask a question about our published documents. Every answer cites its sources.',
      'Searching the documents…', 'Stopped.', 'No answer in the documents',
      'The documents I can search do not answer this. Try rephrasing, or contact the agency.',
      'Parts of this answer could not be verified against the documents.', 'Sources', 'Source',
      'Open the source document', 'Page', 'Section', 'Language', 'Quoted passage',
      'Was this answer helpful?', 'Helpful', 'Not helpful', 'Add a comment (optional)', 'Send comment',
      'Thank you for your feedback.', 'Your feedback could not be sent.',
      'Too many questions. Try again in {n} s.', 'Too many questions. Try again in a moment.',
      'Something went wrong. Please try again.',
      'The service is not available right now (error {n}). Please try again later.',
      'The service could not be reached. Check your connection and try again.',
      'The answer was interrupted. Please try again.',
      "This website's access key was refused. Please tell the site's administrators.", 'You', 'Assistant',
      'Conversation'],
    ms: ['Pembantu dokumen', 'Tanya soalan', 'Tutup', 'Taip soalan anda…', 'Soalan anda', 'Hantar', 'Henti',
      'Perbualan baharu',
      'Tanya soalan tentang dokumen terbitan kami. Setiap jawapan menyatakan sumbernya.',
      'Sedang mencari dalam dokumen…', 'Dihentikan.', 'Tiada jawapan dalam dokumen',
      'Dokumen yang boleh saya cari tidak menjawab soalan ini. Cuba tanya dengan cara lain, atau hubungi agensi berkenaan.',
      'Sebahagian jawapan ini tidak dapat disahkan dengan dokumen.', 'Sumber', 'Sumber',
      'Buka dokumen sumber', 'Halaman', 'Bahagian', 'Bahasa', 'Petikan',
      'Adakah jawapan ini membantu?', 'Membantu', 'Tidak membantu', 'Tambah ulasan (pilihan)',
      'Hantar ulasan', 'Terima kasih atas maklum balas anda.', 'Maklum balas anda tidak dapat dihantar.',
      'Terlalu banyak soalan. Cuba lagi dalam {n} saat.', 'Terlalu banyak soalan. Cuba lagi sebentar lagi.',
      'Berlaku ralat. Sila cuba lagi.',
      'Perkhidmatan tidak tersedia buat masa ini (ralat {n}). Sila cuba lagi kemudian.',
      'Perkhidmatan tidak dapat dihubungi. Semak sambungan anda dan cuba lagi.',
      'Jawapan terputus. Sila cuba lagi.',
      'Kunci akses laman web ini ditolak. Sila maklumkan kepada pentadbir laman.', 'Anda', 'Pembantu',
      'Perbualan'],
    id: ['Asisten dokumen', 'Ajukan pertanyaan', 'Tutup', 'Ketik pertanyaan Anda…', 'Pertanyaan Anda',
      'Kirim', 'Hentikan', 'Percakapan baru',
      'Ajukan pertanyaan tentang dokumen yang kami terbitkan. Setiap jawaban mencantumkan sumbernya.',
      'Mencari di dalam dokumen…', 'Dihentikan.', 'Tidak ada jawaban di dalam dokumen',
      'Dokumen yang dapat saya telusuri tidak menjawab pertanyaan ini. Coba ajukan dengan kata-kata lain, atau hubungi instansi terkait.',
      'Sebagian jawaban ini tidak dapat diverifikasi dengan dokumen.', 'Sumber', 'Sumber',
      'Buka dokumen sumber', 'Halaman', 'Bagian', 'Bahasa', 'Kutipan', 'Apakah jawaban ini membantu?',
      'Membantu', 'Tidak membantu', 'Tambahkan komentar (opsional)', 'Kirim komentar',
      'Terima kasih atas masukan Anda.', 'Masukan Anda tidak dapat dikirim.',
      'Terlalu banyak pertanyaan. Coba lagi dalam {n} detik.',
      'Terlalu banyak pertanyaan. Coba lagi sebentar lagi.', 'Terjadi kesalahan. Silakan coba lagi.',
      'Layanan sedang tidak tersedia (kesalahan {n}). Silakan coba lagi nanti.',
      'Layanan tidak dapat dihubungi. Periksa koneksi Anda lalu coba lagi.',
      'Jawaban terputus. Silakan coba lagi.',
      'Kunci akses situs web ini ditolak. Mohon beri tahu pengelola situs.', 'Anda', 'Asisten',
      'Percakapan'],
    th: ['ผู้ช่วยค้นเอกสาร', 'ถามคำถาม', 'ปิด', 'พิมพ์คำถามของคุณ…', 'คำถามของคุณ', 'ส่ง', 'หยุด',
      'เริ่มการสนทนาใหม่', 'ถามคำถามเกี่ยวกับเอกสารที่เราเผยแพร่ ทุกคำตอบจะระบุแหล่งที่มา',
      'กำลังค้นหาในเอกสาร…', 'หยุดแล้ว', 'ไม่พบคำตอบในเอกสาร',
      'เอกสารที่ค้นหาได้ไม่มีคำตอบสำหรับคำถามนี้ ลองเปลี่ยนวิธีถาม หรือติดต่อหน่วยงานโดยตรง',
      'บางส่วนของคำตอบนี้ไม่สามารถตรวจสอบกับเอกสารได้', 'แหล่งที่มา', 'แหล่งที่มา', 'เปิดเอกสารต้นฉบับ',
      'หน้า', 'หัวข้อ', 'ภาษา', 'ข้อความที่อ้างอิง', 'คำตอบนี้มีประโยชน์หรือไม่', 'มีประโยชน์',
      'ไม่มีประโยชน์', 'เพิ่มความคิดเห็น (ไม่บังคับ)', 'ส่งความคิดเห็น', 'ขอบคุณสำหรับความคิดเห็นของคุณ',
      'ส่งความคิดเห็นไม่สำเร็จ', 'มีคำถามมากเกินไป โปรดลองอีกครั้งใน {n} วินาที',
      'มีคำถามมากเกินไป โปรดลองอีกครั้งในอีกสักครู่', 'เกิดข้อผิดพลาด โปรดลองอีกครั้ง',
      'บริการไม่พร้อมใช้งานในขณะนี้ (ข้อผิดพลาด {n}) โปรดลองอีกครั้งภายหลัง',
      'ไม่สามารถเชื่อมต่อกับบริการได้ โปรดตรวจสอบการเชื่อมต่อแล้วลองอีกครั้ง',
      'คำตอบถูกตัดกลางคัน โปรดลองอีกครั้ง',
      'คีย์การเข้าถึงของเว็บไซต์นี้ถูกปฏิเสธ โปรดแจ้งผู้ดูแลเว็บไซต์', 'คุณ', 'ผู้ช่วย', 'การสนทนา'],
    vi: ['Trợ lý tra cứu tài liệu', 'Đặt câu hỏi', 'Đóng', 'Nhập câu hỏi của bạn…', 'Câu hỏi của bạn', 'Gửi',
      'Dừng', 'Cuộc trò chuyện mới',
      'Hãy đặt câu hỏi về các tài liệu chúng tôi đã công bố. Mỗi câu trả lời đều dẫn nguồn.',
      'Đang tìm trong tài liệu…', 'Đã dừng.', 'Không tìm thấy câu trả lời trong tài liệu',
      'Các tài liệu tôi có thể tra cứu không trả lời được câu hỏi này. Hãy thử diễn đạt theo cách khác hoặc liên hệ với cơ quan.',
      'Một phần câu trả lời này chưa thể đối chiếu với tài liệu.', 'Nguồn', 'Nguồn', 'Mở tài liệu gốc',
      'Trang', 'Mục', 'Ngôn ngữ', 'Đoạn trích dẫn', 'Câu trả lời này có hữu ích không?', 'Hữu ích',
      'Không hữu ích', 'Thêm nhận xét (không bắt buộc)', 'Gửi nhận xét', 'Cảm ơn bạn đã góp ý.',
      'Không gửi được góp ý của bạn.', 'Bạn đã hỏi quá nhiều câu. Vui lòng thử lại sau {n} giây.',
      'Bạn đã hỏi quá nhiều câu. Vui lòng thử lại sau giây lát.', 'Đã xảy ra lỗi. Vui lòng thử lại.',
      'Dịch vụ hiện không khả dụng (lỗi {n}). Vui lòng thử lại sau.',
      'Không thể kết nối tới dịch vụ. Hãy kiểm tra kết nối mạng và thử lại.',
      'Câu trả lời bị gián đoạn. Vui lòng thử lại.',
      'Khóa truy cập của trang web này đã bị từ chối. Vui lòng báo cho quản trị viên trang.', 'Bạn',
      'Trợ lý', 'Cuộc trò chuyện'],
    tl: ['Katulong sa mga dokumento', 'Magtanong', 'Isara', 'I-type ang iyong tanong…', 'Ang iyong tanong',
      'Ipadala', 'Ihinto', 'Bagong usapan',
      'Magtanong tungkol sa aming mga inilathalang dokumento. Binabanggit ng bawat sagot ang pinagmulan nito.',
      'Naghahanap sa mga dokumento…', 'Inihinto.', 'Walang sagot sa mga dokumento',
      'Hindi sinasagot ng mga dokumentong mahahanap ko ang tanong na ito. Subukang itanong sa ibang paraan, o makipag-ugnayan sa ahensya.',
      'Hindi ma-verify sa mga dokumento ang ilang bahagi ng sagot na ito.', 'Mga pinagmulan', 'Pinagmulan',
      'Buksan ang pinagmulang dokumento', 'Pahina', 'Seksyon', 'Wika', 'Siniping bahagi',
      'Nakatulong ba ang sagot na ito?', 'Nakatulong', 'Hindi nakatulong', 'Magdagdag ng komento (opsyonal)',
      'Ipadala ang komento', 'Salamat sa iyong puna.', 'Hindi naipadala ang iyong puna.',
      'Masyadong maraming tanong. Subukang muli pagkalipas ng {n} segundo.',
      'Masyadong maraming tanong. Subukang muli maya-maya.', 'Nagkaroon ng problema. Pakisubukang muli.',
      'Hindi available ang serbisyo sa ngayon (error {n}). Pakisubukang muli mamaya.',
      'Hindi maabot ang serbisyo. Suriin ang iyong koneksyon at subukang muli.',
      'Naputol ang sagot. Pakisubukang muli.',
      'Tinanggihan ang access key ng website na ito. Pakisabihan ang mga tagapangasiwa ng site.', 'Ikaw',
      'Katulong', 'Usapan'],
    ta: ['ஆவண உதவியாளர்', 'கேள்வி கேளுங்கள்', 'மூடு', 'உங்கள் கேள்வியைத் தட்டச்சு செய்யுங்கள்…',
      'உங்கள் கேள்வி', 'அனுப்பு', 'நிறுத்து', 'புதிய உரையாடல்',
      'நாங்கள் வெளியிட்ட ஆவணங்களைப் பற்றிக் கேள்வி கேளுங்கள். ஒவ்வொரு பதிலும் அதன் மூலங்களைக் குறிப்பிடும்.',
      'ஆவணங்களில் தேடுகிறது…', 'நிறுத்தப்பட்டது.', 'ஆவணங்களில் பதில் இல்லை',
      'நான் தேடக்கூடிய ஆவணங்களில் இந்தக் கேள்விக்குப் பதில் இல்லை. வேறு விதமாகக் கேட்டுப் பாருங்கள், அல்லது சம்பந்தப்பட்ட அமைப்பைத் தொடர்புகொள்ளுங்கள்.',
      'இந்தப் பதிலின் சில பகுதிகளை ஆவணங்களுடன் சரிபார்க்க முடியவில்லை.', 'மூலங்கள்', 'மூலம்',
      'மூல ஆவணத்தைத் திற', 'பக்கம்', 'பிரிவு', 'மொழி', 'மேற்கோள் பகுதி',
      'இந்தப் பதில் உதவியாக இருந்ததா?', 'உதவியாக இருந்தது', 'உதவியாக இல்லை',
      'கருத்தைச் சேர்க்கவும் (விருப்பத்திற்குரியது)', 'கருத்தை அனுப்பு', 'உங்கள் கருத்துக்கு நன்றி.',
      'உங்கள் கருத்தை அனுப்ப முடியவில்லை.', 'அதிகமான கேள்விகள். {n} விநாடிகளில் மீண்டும் முயலவும்.',
      'அதிகமான கேள்விகள். சிறிது நேரம் கழித்து மீண்டும் முயலவும்.', 'ஏதோ தவறு நடந்தது. மீண்டும் முயலவும்.',
      'சேவை தற்போது கிடைக்கவில்லை (பிழை {n}). பிறகு மீண்டும் முயலவும்.',
      'சேவையை அணுக முடியவில்லை. உங்கள் இணைப்பைச் சரிபார்த்து மீண்டும் முயலவும்.',
      'பதில் இடையில் நின்றுவிட்டது. மீண்டும் முயலவும்.',
      'இந்த இணையதளத்தின் அணுகல் விசை நிராகரிக்கப்பட்டது. தள நிர்வாகிகளிடம் தெரிவிக்கவும்.', 'நீங்கள்',
      'உதவியாளர்', 'உரையாடல்'],
    zh: ['文件助手', '提问', '关闭', '请输入您的问题…', '您的问题', '发送', '停止', '新对话',
      '请就我们发布的文件提问。每个回答都会注明出处。', '正在检索文件…', '已停止。', '文件中没有找到答案',
      '我能检索的文件无法回答这个问题。请换一种方式提问，或联系相关机构。', '此回答的部分内容无法与文件核实。',
      '来源', '来源', '打开来源文件', '页码', '章节', '语言', '引用段落', '这个回答有帮助吗？', '有帮助',
      '没有帮助', '添加评论（可选）', '发送评论', '感谢您的反馈。', '无法发送您的反馈。',
      '提问过于频繁。请在 {n} 秒后重试。', '提问过于频繁。请稍后重试。', '出现问题。请重试。',
      '服务暂时不可用（错误 {n}）。请稍后重试。', '无法连接到服务。请检查网络连接后重试。', '回答被中断。请重试。',
      '本网站的访问密钥被拒绝。请通知网站管理员。', '您', '助手', '对话'],
    my: ['စာရွက်စာတမ်း လက်ထောက်', 'မေးခွန်းမေးရန်', 'ပိတ်ရန်', 'သင့်မေးခွန်းကို ရိုက်ထည့်ပါ…', 'သင့်မေးခွန်း',
      'ပို့ရန်', 'ရပ်ရန်', 'စကားဝိုင်းအသစ်',
      'ကျွန်ုပ်တို့ ထုတ်ပြန်ထားသော စာရွက်စာတမ်းများအကြောင်း မေးခွန်းမေးပါ။ အဖြေတိုင်းတွင် ကိုးကားရင်းမြစ်များကို ဖော်ပြထားပါသည်။',
      'စာရွက်စာတမ်းများထဲတွင် ရှာဖွေနေသည်…', 'ရပ်လိုက်ပါပြီ။', 'စာရွက်စာတမ်းများတွင် အဖြေ မတွေ့ပါ',
      'ကျွန်ုပ်ရှာဖွေနိုင်သော စာရွက်စာတမ်းများတွင် ဤမေးခွန်းအတွက် အဖြေမရှိပါ။ အခြားပုံစံဖြင့် မေးကြည့်ပါ၊ သို့မဟုတ် သက်ဆိုင်ရာ ဌာနကို ဆက်သွယ်ပါ။',
      'ဤအဖြေ၏ အချို့အပိုင်းများကို စာရွက်စာတမ်းများနှင့် တိုက်ဆိုင်စစ်ဆေး၍ မရပါ။', 'ရင်းမြစ်များ',
      'ရင်းမြစ်', 'မူရင်းစာတမ်းကို ဖွင့်ရန်', 'စာမျက်နှာ', 'အပိုင်း', 'ဘာသာစကား', 'ကိုးကားထားသော စာပိုဒ်',
      'ဤအဖြေသည် အထောက်အကူ ဖြစ်ပါသလား။', 'အထောက်အကူဖြစ်သည်', 'အထောက်အကူမဖြစ်ပါ',
      'မှတ်ချက် ထည့်ရန် (မထည့်လည်းရသည်)', 'မှတ်ချက် ပို့ရန်', 'သင့်အကြံပြုချက်အတွက် ကျေးဇူးတင်ပါသည်။',
      'သင့်အကြံပြုချက်ကို ပို့၍ မရပါ။', 'မေးခွန်း များလွန်းနေပါသည်။ {n} စက္ကန့်အကြာတွင် ထပ်မံကြိုးစားပါ။',
      'မေးခွန်း များလွန်းနေပါသည်။ ခဏအကြာတွင် ထပ်မံကြိုးစားပါ။', 'တစ်ခုခု မှားယွင်းသွားပါသည်။ ထပ်မံကြိုးစားပါ။',
      'ဝန်ဆောင်မှုကို ယခု အသုံးပြု၍ မရပါ (အမှား {n})။ နောက်မှ ထပ်မံကြိုးစားပါ။',
      'ဝန်ဆောင်မှုသို့ ချိတ်ဆက်၍ မရပါ။ သင့်အင်တာနက်ချိတ်ဆက်မှုကို စစ်ဆေးပြီး ထပ်မံကြိုးစားပါ။',
      'အဖြေ ပြတ်တောက်သွားပါသည်။ ထပ်မံကြိုးစားပါ။',
      'ဤဝက်ဘ်ဆိုက်၏ ဝင်ရောက်ခွင့်ကီးကို ငြင်းပယ်လိုက်ပါသည်။ ဆိုက်စီမံခန့်ခွဲသူများထံ အကြောင်းကြားပါ။', 'သင်',
      'လက်ထောက်', 'စကားဝိုင်း'],
    km: ['ជំនួយការឯកសារ', 'សួរសំណួរ', 'បិទ', 'វាយបញ្ចូលសំណួររបស់អ្នក…', 'សំណួររបស់អ្នក', 'ផ្ញើ', 'បញ្ឈប់',
      'ការសន្ទនាថ្មី', 'សួរសំណួរអំពីឯកសារដែលយើងបានផ្សព្វផ្សាយ។ ចម្លើយនីមួយៗបញ្ជាក់ពីប្រភពរបស់វា។',
      'កំពុងស្វែងរកក្នុងឯកសារ…', 'បានបញ្ឈប់។', 'រកមិនឃើញចម្លើយក្នុងឯកសារទេ',
      'ឯកសារដែលខ្ញុំអាចស្វែងរកបាន មិនមានចម្លើយចំពោះសំណួរនេះទេ។ សូមសាកល្បងសួរតាមរបៀបផ្សេង ឬទាក់ទងស្ថាប័នពាក់ព័ន្ធ។',
      'ផ្នែកខ្លះនៃចម្លើយនេះ មិនអាចផ្ទៀងផ្ទាត់ជាមួយឯកសារបានទេ។', 'ប្រភព', 'ប្រភព', 'បើកឯកសារប្រភព',
      'ទំព័រ', 'ផ្នែក', 'ភាសា', 'អត្ថបទដកស្រង់', 'តើចម្លើយនេះមានប្រយោជន៍ដែរឬទេ?', 'មានប្រយោជន៍',
      'គ្មានប្រយោជន៍', 'បន្ថែមមតិ (ស្រេចចិត្ត)', 'ផ្ញើមតិ', 'សូមអរគុណចំពោះមតិរបស់អ្នក។',
      'មិនអាចផ្ញើមតិរបស់អ្នកបានទេ។', 'សំណួរច្រើនពេក។ សូមព្យាយាមម្តងទៀតក្នុងរយៈពេល {n} វិនាទី។',
      'សំណួរច្រើនពេក។ សូមព្យាយាមម្តងទៀតបន្តិចទៀត។', 'មានបញ្ហាកើតឡើង។ សូមព្យាយាមម្តងទៀត។',
      'សេវាកម្មមិនអាចប្រើបាននៅពេលនេះទេ (កំហុស {n})។ សូមព្យាយាមម្តងទៀតនៅពេលក្រោយ។',
      'មិនអាចភ្ជាប់ទៅសេវាកម្មបានទេ។ សូមពិនិត្យការតភ្ជាប់របស់អ្នក ហើយព្យាយាមម្តងទៀត។',
      'ចម្លើយត្រូវបានកាត់ផ្តាច់។ សូមព្យាយាមម្តងទៀត។',
      'កូនសោចូលប្រើរបស់គេហទំព័រនេះត្រូវបានបដិសេធ។ សូមជូនដំណឹងដល់អ្នកគ្រប់គ្រងគេហទំព័រ។', 'អ្នក', 'ជំនួយការ',
      'ការសន្ទនា'],
    lo: ['ຜູ້ຊ່ວຍຄົ້ນເອກະສານ', 'ຖາມຄຳຖາມ', 'ປິດ', 'ພິມຄຳຖາມຂອງທ່ານ…', 'ຄຳຖາມຂອງທ່ານ', 'ສົ່ງ', 'ຢຸດ',
      'ເລີ່ມການສົນທະນາໃໝ່', 'ຖາມຄຳຖາມກ່ຽວກັບເອກະສານທີ່ພວກເຮົາເຜີຍແຜ່. ທຸກຄຳຕອບຈະບອກແຫຼ່ງທີ່ມາ.',
      'ກຳລັງຄົ້ນຫາໃນເອກະສານ…', 'ຢຸດແລ້ວ.', 'ບໍ່ພົບຄຳຕອບໃນເອກະສານ',
      'ເອກະສານທີ່ຂ້ອຍຄົ້ນຫາໄດ້ບໍ່ມີຄຳຕອບສຳລັບຄຳຖາມນີ້. ລອງຖາມດ້ວຍວິທີອື່ນ ຫຼື ຕິດຕໍ່ໜ່ວຍງານທີ່ກ່ຽວຂ້ອງ.',
      'ບາງສ່ວນຂອງຄຳຕອບນີ້ບໍ່ສາມາດກວດສອບກັບເອກະສານໄດ້.', 'ແຫຼ່ງທີ່ມາ', 'ແຫຼ່ງທີ່ມາ', 'ເປີດເອກະສານຕົ້ນສະບັບ',
      'ໜ້າ', 'ຫົວຂໍ້', 'ພາສາ', 'ຂໍ້ຄວາມທີ່ອ້າງອີງ', 'ຄຳຕອບນີ້ມີປະໂຫຍດບໍ່?', 'ມີປະໂຫຍດ', 'ບໍ່ມີປະໂຫຍດ',
      'ເພີ່ມຄຳເຫັນ (ບໍ່ບັງຄັບ)', 'ສົ່ງຄຳເຫັນ', 'ຂອບໃຈສຳລັບຄຳຕິຊົມຂອງທ່ານ.', 'ບໍ່ສາມາດສົ່ງຄຳຕິຊົມຂອງທ່ານໄດ້.',
      'ມີຄຳຖາມຫຼາຍເກີນໄປ. ກະລຸນາລອງໃໝ່ໃນອີກ {n} ວິນາທີ.', 'ມີຄຳຖາມຫຼາຍເກີນໄປ. ກະລຸນາລອງໃໝ່ໃນອີກບໍ່ດົນ.',
      'ເກີດຂໍ້ຜິດພາດ. ກະລຸນາລອງໃໝ່.', 'ບໍລິການບໍ່ພ້ອມໃຊ້ງານໃນຕອນນີ້ (ຂໍ້ຜິດພາດ {n}). ກະລຸນາລອງໃໝ່ພາຍຫຼັງ.',
      'ບໍ່ສາມາດເຊື່ອມຕໍ່ກັບບໍລິການໄດ້. ກະລຸນາກວດສອບການເຊື່ອມຕໍ່ ແລ້ວລອງໃໝ່.', 'ຄຳຕອບຖືກຂັດຈັງຫວະ. ກະລຸນາລອງໃໝ່.',
      'ກະແຈເຂົ້າໃຊ້ຂອງເວັບໄຊນີ້ຖືກປະຕິເສດ. ກະລຸນາແຈ້ງຜູ້ດູແລເວັບໄຊ.', 'ທ່ານ', 'ຜູ້ຊ່ວຍ', 'ການສົນທະນາ'],
  };
  // A citation's date and the badge of a version that a newer one replaced (strings per language).
  const DATED = { en: ['Date', 'Superseded'], ms: ['Tarikh', 'Digantikan'], id: ['Tanggal', 'Sudah diganti'],
    th: ['วันที่', 'ถูกแทนที่แล้ว'], vi: ['Ngày', 'Đã được thay thế'], tl: ['Petsa', 'Napalitan na'],
    ta: ['தேதி', 'மாற்றப்பட்டது'], zh: ['日期', '已被取代'], my: ['ရက်စွဲ', 'အစားထိုးပြီး'],
    km: ['កាលបរិច្ឆេទ', 'ត្រូវបានជំនួស'], lo: ['ວັນທີ', 'ຖືກແທນທີ່ແລ້ວ'] };
  const STR = {};
  for (const l in RAW) {
    STR[l] = {}; K.forEach((k, i) => { STR[l][k] = RAW[l][i]; });
    [STR[l].date, STR[l].superseded] = DATED[l];
  }
  /** A citation's date (in force from, else issued) as YYYY-MM-DD, or ''. */
  const citeDate = (c) => {
    const ts = Number(c.effective_from || c.doc_date);
    return Number.isFinite(ts) && ts > 0 ? new Date(ts * 1000).toISOString().slice(0, 10) : '';
  };
  const ALIAS = { fil: 'tl', in: 'id', zsm: 'ms', msa: 'ms', ind: 'id', tha: 'th', vie: 'vi', tam: 'ta',
    zho: 'zh', cmn: 'zh', mya: 'my', bur: 'my', khm: 'km', lao: 'lo', tgl: 'tl' };
  const pickLang = (cands) => {
    for (const c of cands) {
      if (!c) continue;
      const p = String(c).toLowerCase().split(/[-_]/)[0];
      const k = ALIAS[p] || p;
      if (STR[k]) return k;
    }
    return 'en';
  };

  // ---- colours: the accent decides black or white text by WCAG contrast, links get a darkened accent ---
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const contrast = (a, b) => {
    const x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const hex = (c) => '#' + c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  const parseColor = (v) => {
    if (!v) return null;
    const x = document.createElement('canvas').getContext('2d');
    if (!x) return null;
    x.fillStyle = '#010203'; x.fillStyle = v; const a = x.fillStyle;
    x.fillStyle = '#040506'; x.fillStyle = v;
    if (a !== x.fillStyle) return null; // the browser rejected the colour both times
    const m = a.match(/^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i);
    if (m) return [1, 2, 3].map((i) => parseInt(m[i], 16));
    const n = a.match(/[\d.]+/g);
    return n && n.length >= 3 ? n.slice(0, 3).map(Number) : null;
  };
  const WHITE = [255, 255, 255], BLACK = [0, 0, 0], BUBBLE = [241, 243, 246];
  const theme = (accent) => {
    const a = parseColor(accent) || [11, 92, 173];
    const on = contrast(a, WHITE) >= contrast(a, BLACK) ? WHITE : BLACK;
    let ink = a.map(Math.round);
    for (let i = 0; i < 40 && contrast(ink, BUBBLE) < 4.6; i++) ink = ink.map((v) => Math.floor(v * 0.9));
    return { '--a': hex(a), '--on': hex(on), '--ink': hex(ink), '--tint': hex(a.map((v) => v * 0.1 + 229.5)) };
  };

  // ---- small helpers ----------------------------------------------------------------------------------
  const el = (tag, attrs, kids) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (typeof v === 'function') e.addEventListener(k, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids || []) if (c !== null && c !== undefined) e.append(c); // strings become text nodes
    return e;
  };
  const SVGNS = 'http://www.w3.org/2000/svg';
  const ICONS = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    close: 'M6 6l12 12M18 6L6 18',
    reset: 'M4 12a8 8 0 1 0 2.3-5.6M4 4v4h4',
    thumb: 'M7 10v11H3V10zM7 10l4-7c1.7 0 2.8 1.3 2.4 3L13 9h6a2 2 0 0 1 2 2.3l-1.3 7.5A2.7 2.7 0 0 1 17 21H7',
  };
  const icon = (name, flip) => {
    const s = document.createElementNS(SVGNS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24'); s.setAttribute('aria-hidden', 'true'); s.setAttribute('class', 'i');
    if (flip) s.style.transform = 'scaleY(-1)';
    const p = document.createElementNS(SVGNS, 'path');
    p.setAttribute('d', ICONS[name]);
    s.append(p);
    return s;
  };
  const fmt = (s, n) => s.replace('{n}', String(n));
  const str = (v) => (v === null || v === undefined ? '' : Array.isArray(v) ? v.filter(Boolean).join(' › ') : String(v));
  /** Only absolute http(s) URLs become links; javascript:, data: and relative paths stay text. */
  const safeUrl = (s, page) => {
    let u;
    try { u = new URL(String(s).trim()); } catch (_) { return null; }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    if (page && !u.hash && /\.pdf$/i.test(u.pathname)) u.hash = 'page=' + page;
    return u.href;
  };
  const errText = (j) => {
    if (!j || typeof j !== 'object') return '';
    if (j.error && typeof j.error.message === 'string') return j.error.message;
    if (typeof j.detail === 'string') return j.detail;
    if (Array.isArray(j.detail)) return j.detail.map((d) => (d && d.msg) || '').filter(Boolean).join('; ');
    return '';
  };
  const retryAfter = (h) => {
    if (!h) return 0;
    if (/^\s*\d+\s*$/.test(h)) return Math.max(1, parseInt(h, 10));
    const d = Date.parse(h);
    return isNaN(d) ? 0 : Math.max(1, Math.ceil((d - Date.now()) / 1000));
  };

  /** Server-Sent Events parser: feed(text) any number of times, frames may be split anywhere. */
  const sseParser = (onEvent) => {
    let buf = '';
    const frame = (block) => {
      let ev = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (!line || line[0] === ':') continue;
        const c = line.indexOf(':');
        const f = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? '' : line.slice(c + 1);
        if (v[0] === ' ') v = v.slice(1);
        if (f === 'event') ev = v || 'message';
        else if (f === 'data') data.push(v);
      }
      if (data.length) onEvent(ev, data.join('\n'));
    };
    return (text, end) => {
      buf += text;
      let hold = '';
      if (!end && buf.endsWith('\r')) { hold = '\r'; buf = buf.slice(0, -1); } // maybe the \r of a \r\n
      buf = buf.replace(/\r\n?/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) { frame(buf.slice(0, i)); buf = buf.slice(i + 2); }
      if (end) { if (buf.trim()) frame(buf); buf = ''; }
      buf += hold;
    };
  };
  const readSSE = async (res, onEvent) => {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let stop = false;
    const feed = sseParser((ev, data) => { if (!stop && onEvent(ev, data)) stop = true; });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      feed(dec.decode(value, { stream: true }));
      if (stop) { reader.cancel().catch(() => {}); return; }
    }
    feed(dec.decode(), true);
  };

  const FONT = 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Noto Sans Thai",' +
    '"Leelawadee UI",Thonburi,"Noto Sans Lao","Lao UI","Lao Sangam MN","Noto Sans Khmer","Khmer UI",' +
    '"Khmer Sangam MN","Noto Sans Myanmar","Myanmar Text","Myanmar Sangam MN","Noto Sans Tamil","Nirmala UI",' +
    '"Tamil Sangam MN","Noto Sans CJK SC","PingFang SC","Hiragino Sans GB","Microsoft YaHei",sans-serif';
  const CSS = `
:host{all:initial;display:block;font:15px/1.6 var(--govrag-font,${FONT});color:#1b1d21}
:host([hidden]){display:none}
*{box-sizing:border-box}
[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
button,textarea{font:inherit;color:inherit;letter-spacing:inherit}
button{cursor:pointer}
:focus-visible{outline:3px solid var(--ink);outline-offset:2px}
.i{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;flex:none}
.panel{display:flex;flex-direction:column;background:#fff;border:1px solid #767b85;border-radius:12px;overflow:hidden;position:relative;min-width:0}
.inline .panel{height:var(--govrag-height,560px)}
.launcher .panel{position:fixed;right:16px;bottom:84px;width:min(400px,calc(100vw - 32px));height:min(640px,calc(100vh - 104px));z-index:var(--govrag-z,2147483000);box-shadow:0 10px 30px rgba(0,0,0,.3)}
.fab{position:fixed;right:16px;bottom:16px;z-index:var(--govrag-z,2147483000);display:flex;align-items:center;gap:8px;min-height:48px;padding:10px 18px;border:2px solid var(--on);border-radius:999px;background:var(--a);color:var(--on);font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.3);max-width:calc(100vw - 32px)}
.fab:focus-visible,header :focus-visible{outline-color:var(--on);outline-offset:-5px}
header{display:flex;align-items:center;gap:2px;padding:6px 6px 6px 14px;background:var(--a);color:var(--on)}
h2{flex:1;margin:0;font-size:1.05em;font-weight:600;min-width:0;overflow-wrap:anywhere}
.ib{flex:none;background:transparent;border:0;color:inherit;width:44px;height:44px;border-radius:8px;display:grid;place-items:center;padding:0}
.ib:hover{background:rgba(127,127,127,.25)}
.scroll{flex:1;overflow-y:auto;padding:12px;overscroll-behavior:contain}
.welcome{color:#4b5059;margin:0 0 12px}
.msg{margin:0 0 12px;padding:10px 12px;border-radius:10px;overflow-wrap:anywhere}
.user{background:var(--tint);margin-left:12%}
.bot{background:#f1f3f6}
.bot:focus-visible{outline-offset:1px}
.body{white-space:pre-wrap}
.thinking{color:#4b5059;font-style:italic}
.cite{display:inline-block;min-width:24px;min-height:24px;margin:0 2px;padding:0 4px;border:1px solid var(--ink);border-radius:6px;background:#fff;color:var(--ink);font-size:.85em;font-weight:600;line-height:22px;vertical-align:baseline}
.cite:hover,.slist button:hover{background:var(--tint)}
.refused{border-left:4px solid #8a5300;background:#fff6e0;padding:6px 10px;border-radius:4px}
.refused strong{display:block}
.note{font-size:.9em;color:#4b5059;margin:6px 0 0}
.sources{margin-top:8px;font-size:.92em}
h3{font-size:1em;margin:0;font-weight:600}
.slist{list-style:none;margin:2px 0 0;padding:0}
.badge{display:inline-block;padding:0 6px;border-radius:4px;border:1px solid #8a5300;background:#fff6e0;color:#5c3700;font-size:.85em;font-weight:600}
.slist button{background:none;border:0;padding:3px 2px;color:var(--ink);text-align:start;text-decoration:underline;min-height:24px}
.fb{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:8px;font-size:.9em}
.fb .ib{width:36px;height:36px;border:1px solid #767b85;background:#fff;color:#1b1d21}
.fb .ib[aria-pressed=true]{background:var(--a);color:var(--on);border-color:var(--a)}
.fbc{display:flex;flex-wrap:wrap;gap:6px;width:100%}
.fbc textarea{flex:1 1 12em;min-height:40px}
.fbc button,.src .x{min-height:40px;padding:0 12px;border:1px solid var(--ink);border-radius:8px;background:#fff;color:var(--ink);font-weight:600}
.alert{margin:0 12px 8px;padding:8px 10px;border-radius:8px;background:#fdecea;color:#8c1d18;border:1px solid #c5221f}
.alert:empty{display:none}
.alert small{display:block;color:#5f1410}
form{display:flex;gap:8px;padding:10px;border-top:1px solid #c9cdd3;align-items:flex-end;margin:0}
textarea{flex:1;min-width:0;resize:none;border:1px solid #6b7079;border-radius:8px;padding:9px 10px;max-height:9em;min-height:44px;background:#fff}
.send,.stop{flex:none;min-height:44px;padding:0 14px;border-radius:8px;border:2px solid var(--a);background:var(--a);color:var(--on);font-weight:600}
.stop{background:#fff;color:#8c1d18;border-color:#8c1d18}
.src{position:absolute;left:0;right:0;bottom:0;max-height:80%;overflow:auto;background:#fff;border-top:3px solid var(--ink);padding:12px 14px;box-shadow:0 -8px 20px rgba(0,0,0,.2);z-index:1}
.srch{display:flex;align-items:center;gap:8px}
.srch h3{flex:1}
.stitle{font-weight:600;margin:6px 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:6px 0}
dt,.ql{color:#4b5059}
.ql{margin:8px 0 0;font-size:.9em}
dd{margin:0;overflow-wrap:anywhere}
blockquote{margin:8px 0;padding:6px 10px;border-left:3px solid var(--ink);background:#f6f7f9;white-space:pre-wrap}
a{color:var(--ink);overflow-wrap:anywhere}
.path{font-family:ui-monospace,monospace;font-size:.88em;overflow-wrap:anywhere;color:#4b5059}
@media (max-width:480px){.launcher .panel{left:8px;right:8px;width:auto;bottom:72px;height:calc(100vh - 84px)}.fab{right:8px;bottom:8px}}
@media (forced-colors:active){.cite,.send,.fab{border:1px solid}}
`;

  // A constructed stylesheet is shared by every instance and needs no 'unsafe-inline' in a page's CSP.
  let SHEET = null;
  try { SHEET = new CSSStyleSheet(); SHEET.replaceSync(CSS); } catch (_) { SHEET = null; }

  class TokenError extends Error {}

  class GovragChat extends HTMLElement {
    static get observedAttributes() {
      return ['api-base', 'api-key', 'agency', 'lang', 'title', 'accent', 'mode', 'doc-lang', 'top-k'];
    }

    constructor() {
      super();
      this.attachShadow({ mode: 'open' });
      this._msgs = [];
      this._ctl = null;
      this._open = false;
      this._until = 0;
      this._key = null;
    }

    connectedCallback() { this._build(); }

    disconnectedCallback() { this._abort(); }

    attributeChangedCallback(name, old, value) {
      if (old !== value && this._ui) this._build();
    }

    /** Opens the panel (launcher mode) and focuses the question box. */
    open() {
      this._open = true;
      if (this._ui) { this._ui.panel.hidden = false; this._ui.fab.setAttribute('aria-expanded', 'true'); this._ui.ta.focus(); }
    }

    /** Closes the panel (launcher mode) and returns focus to the launcher button. */
    close() {
      if (this._mode() !== 'launcher') return;
      this._open = false;
      if (this._ui) {
        this._closeSrc(false);
        this._ui.panel.hidden = true;
        this._ui.fab.setAttribute('aria-expanded', 'false');
        this._ui.fab.focus();
      }
    }

    /** Forgets the conversation of this tab. */
    reset() {
      this._abort();
      this._msgs = [];
      try { sessionStorage.removeItem(this._storeKey()); } catch (_) { /* storage blocked */ }
      if (this._ui) {
        this._ui.log.textContent = '';
        this._alert('');
        this._closeSrc(false);
        this._ui.ta.focus();
      }
    }

    /** Asks a question as if it had been typed. */
    ask(question) { return this._ask(String(question || '')); }

    _mode() { return this.getAttribute('mode') === 'inline' ? 'inline' : 'launcher'; }
    _base() { return (this.getAttribute('api-base') || DEFAULT_BASE).replace(/\/+$/, ''); }
    _storeKey() { return 'govrag-chat:' + this._base() + '|' + (this.getAttribute('agency') || ''); }

    // The signed-in officer's token, asked for before each request so that an expiring one is renewed:
    // el.tokenProvider, else the global function the token-provider attribute names, else the token
    // attribute, else the page-wide api-key. A provider returns a string or a Promise of one.
    async _headers() {
      const h = { 'Content-Type': 'application/json', Accept: 'text/event-stream, application/json' };
      const name = this.getAttribute('token-provider');
      const fn = this.tokenProvider || (name && name.split('.').reduce((o, k) => (o == null ? o : o[k]), window));
      if ((this.tokenProvider || name) && typeof fn !== 'function') throw new TokenError('token-provider ' + name + ' is not a function');
      let token = this.getAttribute('token');
      if (fn) {
        try { token = await fn(); } catch (e) { throw new TokenError('token provider failed: ' + ((e && e.message) || e)); }
        if (typeof token !== 'string' || !token) throw new TokenError('token provider returned no token');
      }
      const key = token || this.getAttribute('api-key');
      if (key) h.Authorization = 'Bearer ' + key;
      return h;
    }

    _load() {
      const key = this._storeKey();
      if (key === this._key) return;
      this._key = key;
      this._msgs = [];
      try {
        const v = JSON.parse(sessionStorage.getItem(key) || '[]');
        if (Array.isArray(v)) {
          this._msgs = v.filter((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string');
        }
      } catch (_) { /* no storage, or garbage in it: start empty */ }
    }

    _save() {
      this._msgs = this._msgs.slice(-KEEP);
      try { sessionStorage.setItem(this._storeKey(), JSON.stringify(this._msgs)); } catch (_) { /* quota/blocked */ }
    }

    _build() {
      this._abort();
      this._load();
      const doc = document.documentElement;
      const L = (this._lang = pickLang([this.getAttribute('lang'), this.parentElement && this.parentElement.closest('[lang]') && this.parentElement.closest('[lang]').lang,
        doc.lang, ...(navigator.languages || []), navigator.language]));
      const t = (this._t = (k) => STR[L][k] || STR.en[k]);
      const mode = this._mode();
      const th = theme(this.getAttribute('accent'));
      const root = this.shadowRoot;
      root.textContent = '';
      if (SHEET) root.adoptedStyleSheets = [SHEET];
      else root.append(el('style', {}, [CSS]));
      // title="" stops the host's title attribute (our heading text) from showing as a tooltip everywhere.
      const wrap = el('div', { class: 'root ' + mode, lang: L, title: '', keydown: (e) => this._onKey(e) });
      for (const k in th) wrap.style.setProperty(k, th[k]);
      const heading = this.getAttribute('title') || t('title');
      const ui = (this._ui = {});
      ui.fab = mode === 'launcher'
        ? el('button', { class: 'fab', type: 'button', 'aria-expanded': String(this._open), 'aria-controls': 'gc-panel',
          click: () => (this._open ? this.close() : this.open()) }, [icon('chat'), el('span', {}, [t('launch')])])
        : null;
      const header = el('header', {}, [
        el('h2', { id: 'gc-title' }, [heading]),
        el('button', { class: 'ib', type: 'button', 'aria-label': t('reset'), title: t('reset'), click: () => this.reset() },
          [icon('reset')]),
        mode === 'launcher'
          ? el('button', { class: 'ib', type: 'button', 'aria-label': t('close'), title: t('close'), click: () => this.close() },
            [icon('close')])
          : null,
      ]);
      ui.log = el('div', { role: 'log', 'aria-live': 'polite', 'aria-label': t('log'), class: 'log' });
      // The streaming answer lives outside the live region; the finished answer is announced once.
      ui.draft = el('div', { class: 'msg bot draft', hidden: true }, [el('div', { class: 'body' })]);
      ui.scroll = el('div', { class: 'scroll' }, [el('p', { class: 'welcome' }, [t('welcome')]), ui.log, ui.draft]);
      ui.alert = el('div', { role: 'alert', class: 'alert' });
      ui.ta = el('textarea', { id: 'gc-q', rows: '1', maxlength: String(MAX_Q), placeholder: t('placeholder'), autocomplete: 'off',
        keydown: (e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
            e.preventDefault();
            this._ask(ui.ta.value);
          }
        },
        input: () => this._grow() });
      ui.send = el('button', { class: 'send', type: 'submit' }, [t('send')]);
      ui.stop = el('button', { class: 'stop', type: 'button', hidden: true, click: () => this._abort(true) }, [t('stop')]);
      const form = el('form', { submit: (e) => { e.preventDefault(); this._ask(ui.ta.value); } },
        [el('label', { for: 'gc-q', class: 'sr' }, [t('question')]), ui.ta, ui.send, ui.stop]);
      ui.src = el('section', { class: 'src', role: 'dialog', 'aria-labelledby': 'gc-src-h', hidden: true });
      ui.panel = el('section', { class: 'panel', id: 'gc-panel', role: mode === 'launcher' ? 'dialog' : 'region',
        'aria-labelledby': 'gc-title', hidden: mode === 'launcher' && !this._open }, [header, ui.scroll, ui.alert, form, ui.src]);
      wrap.append(ui.panel);
      if (ui.fab) wrap.append(ui.fab);
      root.append(wrap);
      for (const m of this._msgs) ui.log.append(this._render(m));
      ui.scroll.scrollTop = ui.scroll.scrollHeight;
    }

    _onKey(e) {
      if (e.key !== 'Escape') return;
      if (this._ui && !this._ui.src.hidden) this._closeSrc(true);
      else if (this._mode() === 'launcher' && this._open) this.close();
      else return;
      e.preventDefault();
      e.stopPropagation();
    }

    _grow() {
      const ta = this._ui.ta;
      ta.style.height = 'auto';
      ta.style.height = Math.min(ta.scrollHeight + 2, 200) + 'px';
    }

    _alert(msg, detail) {
      const a = this._ui && this._ui.alert;
      if (!a) return;
      a.textContent = '';
      if (msg) a.append(msg);
      if (msg && detail) a.append(el('small', {}, [detail]));
    }

    _abort(byUser) {
      const c = this._ctl;
      if (!c) return;
      c.byUser = !!byUser;
      if (!byUser) { this._ctl = null; if (this._ui) this._busy(false); } // reset/rebuild: forget it at once
      c.abort();
    }

    _busy(on) {
      const ui = this._ui;
      const hadFocus = this.shadowRoot.activeElement;
      ui.send.hidden = on;
      ui.stop.hidden = !on;
      ui.draft.hidden = !on;
      if (hadFocus === ui.send || hadFocus === ui.stop) ui.ta.focus(); // never leave focus on a hidden button
      if (!on) ui.draft.firstChild.textContent = '';
    }

    _history() {
      const out = [];
      const ms = this._msgs;
      for (let i = 0; i + 1 < ms.length; i++) {
        const u = ms[i], a = ms[i + 1];
        if (u.role === 'user' && a.role === 'assistant' && !a.stopped) {
          out.push({ role: 'user', content: u.content.slice(0, HISTORY_CHARS) },
            { role: 'assistant', content: a.content.slice(0, HISTORY_CHARS) });
          i++;
        }
      }
      return out.slice(-HISTORY_TURNS);
    }

    _scrollDown(force) {
      const s = this._ui.scroll;
      if (force || s.scrollHeight - s.scrollTop - s.clientHeight < 80) s.scrollTop = s.scrollHeight;
    }

    async _ask(raw) {
      const q = raw.trim();
      const ui = this._ui;
      if (!q || this._ctl || !ui) return;
      const t = this._t;
      const wait = Math.ceil((this._until - Date.now()) / 1000);
      if (wait > 0) { this._alert(fmt(t('rateLimit'), wait)); return; }
      this._alert('');
      this._closeSrc(false);
      const body = { question: q, history: this._history(), filters: {}, stream: true };
      const agency = this.getAttribute('agency'), docLang = this.getAttribute('doc-lang');
      if (agency) body.filters.agency = agency;
      if (docLang) body.filters.lang = docLang;
      const topK = parseInt(this.getAttribute('top-k') || '', 10);
      if (topK > 0) body.top_k = topK;
      const um = { role: 'user', content: q };
      this._msgs.push(um);
      this._save();
      const uNode = this._render(um);
      ui.log.append(uNode);
      ui.ta.value = '';
      this._grow();
      const ctl = (this._ctl = new AbortController());
      this._busy(true);
      const dbody = ui.draft.firstChild;
      dbody.className = 'body thinking';
      dbody.textContent = t('thinking');
      this._scrollDown(true);
      let text = '', final = null, err = null, detail = '';
      try {
        const res = await fetch(this._base() + '/v1/query', {
          method: 'POST', headers: await this._headers(), body: JSON.stringify(body), signal: ctl.signal,
        });
        if (!res.ok) {
          let j = null;
          try { j = await res.json(); } catch (_) { /* not JSON */ }
          detail = errText(j);
          if (res.status === 429) {
            const s = retryAfter(res.headers.get('Retry-After'));
            if (s) this._until = Date.now() + s * 1000;
            err = s ? fmt(t('rateLimit'), s) : t('rateLimitSoon');
            detail = '';
          } else if (res.status === 401 || res.status === 403) err = t('denied');
          else if (res.status >= 500) err = fmt(t('server'), res.status);
          else err = t('error');
        } else if (/json/i.test(res.headers.get('content-type') || '')) {
          final = await res.json();
        } else {
          await readSSE(res, (ev, data) => {
            let d;
            try { d = JSON.parse(data); } catch (_) { return false; }
            if (ev === 'delta' && d && typeof d.text === 'string') {
              text += d.text;
              const near = ui.scroll.scrollHeight - ui.scroll.scrollTop - ui.scroll.clientHeight < 80;
              dbody.className = 'body';
              dbody.textContent = text;
              if (near) this._scrollDown(true);
            } else if (ev === 'warning') {
              text = ''; // the LLM failed: an extractive answer follows, drop what it streamed
              dbody.textContent = text;
            } else if (ev === 'done') { final = d; return true; }
            else if (ev === 'error') { err = t('error'); detail = errText(d); return true; }
            return false;
          });
          if (!final && !err) err = t('cutOff');
        }
      } catch (e) {
        if (e instanceof TokenError) { err = t('denied'); detail = e.message; } else if (!ctl.signal.aborted) err = t('network');
      }
      const stopped = ctl.signal.aborted;
      if (stopped && !ctl.byUser) return; // reset, rebuilt or removed: nothing to show
      this._ctl = null;
      this._busy(false);
      let m;
      if (final && typeof final === 'object' && !err) {
        m = { role: 'assistant', content: str(final.answer), citations: Array.isArray(final.citations) ? final.citations : [],
          refused: !!final.refused, grounded: final.grounded !== false, language: str(final.language),
          qid: str(final.query_id) };
      } else if (stopped) {
        m = { role: 'assistant', content: text, citations: [], stopped: true };
      } else {
        // Failed: take the question back so that it can be sent again, and say why in words.
        this._msgs.splice(this._msgs.indexOf(um), 1);
        this._save();
        uNode.remove();
        if (!ui.ta.value) { ui.ta.value = q; this._grow(); }
        this._alert(err || t('error'), detail);
        this.dispatchEvent(new CustomEvent('govrag-error', { detail: { message: err, detail } }));
        return;
      }
      this._msgs.push(m);
      this._save();
      const node = this._render(m);
      ui.log.append(node);
      const typing = ui.ta.value && this.shadowRoot.activeElement === ui.ta;
      if (!typing && (this.shadowRoot.activeElement || document.activeElement === document.body)) node.focus();
      else this._scrollDown(true);
      if (!stopped) this.dispatchEvent(new CustomEvent('govrag-answer', { detail: { query_id: m.qid, refused: m.refused } }));
    }

    _render(m) {
      const t = this._t;
      if (m.role === 'user') {
        return el('div', { class: 'msg user' }, [el('span', { class: 'sr' }, [t('you') + ': ']), el('div', { class: 'body' }, [m.content])]);
      }
      const node = el('div', { class: 'msg bot', tabindex: '-1' }, [el('span', { class: 'sr' }, [t('bot') + ': '])]);
      const lang = m.language || null;
      const cits = (m.citations || []).filter((c) => c && Number.isFinite(Number(c.n)));
      if (m.refused) {
        node.append(el('div', { class: 'refused' }, [el('strong', {}, [t('refused')]),
          m.content ? el('div', { class: 'body', lang }, [m.content]) : el('span', {}, [t('refusedHint')])]));
      } else {
        node.append(el('div', { class: 'body', lang }, [this._answer(m.content, cits)]));
      }
      const note = (k) => node.append(el('p', { class: 'note' }, [t(k)]));
      if (m.stopped) note('stopped');
      else if (!m.refused && m.grounded === false) note('unverified');
      if (cits.length && !m.refused) {
        const seen = new Set();
        const list = el('ol', { class: 'slist' });
        for (const c of cits) {
          if (seen.has(Number(c.n))) continue;
          seen.add(Number(c.n));
          const bits = ['[' + c.n + '] ' + (str(c.title) || str(c.doc_id))];
          if (c.page !== null && c.page !== undefined && c.page !== '') bits.push(t('page') + ' ' + c.page);
          if (citeDate(c)) bits.push(citeDate(c));
          const item = el('li', {}, [el('button', { type: 'button', lang: c.lang || null, 'aria-haspopup': 'dialog',
            click: (e) => this._openSrc(c, e.currentTarget) }, [bits.join(' · ')])]);
          if (c.superseded === true) item.append(' ', el('span', { class: 'badge' }, [t('superseded')]));
          list.append(item);
        }
        node.append(el('div', { class: 'sources' }, [el('h3', {}, [t('sources')]), list]));
      }
      if (m.qid && !m.stopped) node.append(this._feedback(m));
      return node;
    }

    /** Answer text as text nodes, with [n] / [n, m] markers that match a citation turned into buttons. */
    _answer(text, cits) {
      const frag = document.createDocumentFragment();
      const byN = new Map(cits.map((c) => [Number(c.n), c]));
      const re = /\[(\d{1,3}(?:\s*[,，]\s*\d{1,3})*)\]/g;
      let last = 0, m;
      while ((m = re.exec(text))) {
        const ns = m[1].split(/\s*[,，]\s*/).map(Number);
        if (!ns.every((n) => byN.has(n))) continue;
        frag.append(text.slice(last, m.index));
        for (const n of ns) {
          const c = byN.get(n);
          frag.append(el('button', { type: 'button', class: 'cite', 'aria-haspopup': 'dialog',
            'aria-label': '[' + n + '] ' + (str(c.title) || str(c.doc_id)),
            click: (e) => this._openSrc(c, e.currentTarget) }, ['[' + n + ']']));
        }
        last = re.lastIndex;
      }
      frag.append(text.slice(last));
      return frag;
    }

    _openSrc(c, trigger) {
      const t = this._t, ui = this._ui, src = ui.src;
      src.textContent = '';
      const close = el('button', { type: 'button', class: 'x', click: () => this._closeSrc(true) }, [t('close')]);
      src.append(el('div', { class: 'srch' }, [el('h3', { id: 'gc-src-h', tabindex: '-1' }, [t('source') + ' [' + c.n + ']']), close]));
      src.append(el('p', { class: 'stitle', lang: c.lang || null }, [str(c.title) || str(c.doc_id)]));
      if (c.superseded === true) src.append(el('p', {}, [el('span', { class: 'badge' }, [t('superseded')])]));
      const dl = el('dl');
      const row = (k, v, lang) => { if (v !== '') dl.append(el('dt', {}, [t(k)]), el('dd', { lang }, [v])); };
      row('page', str(c.page));
      row('section', str(c.section), c.lang || null);
      row('language', this._langName(str(c.lang)));
      row('date', citeDate(c));
      src.append(dl);
      if (c.quote) {
        src.append(el('p', { class: 'ql' }, [t('quote')]), el('blockquote', { lang: c.lang || null }, [str(c.quote)]));
      }
      const href = safeUrl(c.source, c.page);
      if (href) {
        src.append(el('p', {}, [el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, [t('openSource')])]));
      } else if (c.source) {
        src.append(el('p', { class: 'path' }, [str(c.source)]));
      }
      this._trigger = trigger;
      src.hidden = false;
      src.querySelector('h3').focus();
    }

    _closeSrc(refocus) {
      const ui = this._ui;
      if (!ui || ui.src.hidden) return;
      ui.src.hidden = true;
      ui.src.textContent = '';
      if (refocus && this._trigger && this._trigger.isConnected) this._trigger.focus();
      this._trigger = null;
    }

    _langName(code) {
      if (!code) return '';
      try {
        const n = new Intl.DisplayNames([this._lang], { type: 'language' }).of(code);
        return n && n !== code ? n + ' (' + code + ')' : code;
      } catch (_) { return code; }
    }

    _feedback(m) {
      const t = this._t;
      const box = el('div', { class: 'fb' });
      const draw = () => {
        box.textContent = '';
        const btn = (r, k) => el('button', { type: 'button', class: 'ib', 'aria-label': t(k), title: t(k),
          'aria-pressed': String(m.rating === r), click: () => rate(r) }, [icon('thumb', r === 'down')]);
        box.append(el('span', {}, [t('feedbackAsk')]), btn('up', 'up'), btn('down', 'down'));
        if (m.rating && !m.commented) {
          const ta = el('textarea', { rows: '1', maxlength: '2000', 'aria-label': t('comment'), placeholder: t('comment') });
          box.append(el('div', { class: 'fbc' }, [ta, el('button', { type: 'button', click: async () => {
            const v = ta.value.trim();
            if (!v) { ta.focus(); return; }
            if (await this._postFeedback(m, v)) { m.commented = true; this._save(); draw(); box.lastChild.focus(); }
          } }, [t('sendComment')])]));
        }
        if (m.rating) box.append(el('span', { class: 'thanks', tabindex: '-1' }, [t('thanks')]));
      };
      const rate = async (r) => {
        if (m.rating === r) return;
        const prev = m.rating;
        m.rating = r;
        if (await this._postFeedback(m, '')) { this._save(); draw(); const ta = box.querySelector('textarea'); if (ta) ta.focus(); }
        else m.rating = prev;
      };
      draw();
      return box;
    }

    async _postFeedback(m, comment) {
      const body = { query_id: m.qid, rating: m.rating };
      if (comment) body.comment = comment;
      try {
        const r = await fetch(this._base() + '/v1/feedback', { method: 'POST', headers: await this._headers(), body: JSON.stringify(body) });
        if (!r.ok) throw new Error(String(r.status));
        return true;
      } catch (_) {
        this._alert(this._t('feedbackFailed'));
        return false;
      }
    }
  }

  GovragChat.version = VERSION;
  GovragChat.strings = STR;
  GovragChat.sseParser = sseParser;
  GovragChat.contrast = (a, b) => contrast(parseColor(a) || BLACK, parseColor(b) || BLACK);
  customElements.define(TAG, GovragChat);
})();
