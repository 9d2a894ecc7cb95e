/*! govrag operator console | Apache-2.0 | no dependencies, no external requests.
 * Served at /admin with a strict Content-Security-Policy: no inline script or style; every text from the
 * server is inserted as a text node. The admin key is kept in sessionStorage (this tab only) and sent as
 * `Authorization: Bearer`, as the widget sends its key. Documented in docs/admin.md. */
(() => {
  'use strict';
  const STORE_KEY = 'govrag-admin:key', STORE_LANG = 'govrag-admin:lang', PAGE = 50;
  const API = new URL('.', location.href).href.replace(/\/+$/, '') + '/v1/admin';
  const DOCS = new URL('.', location.href).href.replace(/\/+$/, '') + '/v1/documents/';

  // ---- UI strings: the widget's 11 languages (rag/static/widget.js), its language codes and aliases. ----
  const NAMES = { en: 'English', ms: 'Bahasa Melayu', id: 'Bahasa Indonesia', th: 'ไทย', vi: 'Tiếng Việt',
    tl: 'Filipino', ta: 'தமிழ்', zh: '中文', my: 'မြန်မာ', km: 'ខ្មែរ', lo: 'ລາວ' };
  const K = ['title', 'skip', 'language', 'keyLabel', 'signIn', 'signOut', 'keyHint', 'badKey', 'notAdmin',
    'signedIn', 'allAgencies', 'sections', 'tabDocs', 'tabRuns', 'tabFeedback', 'tabAnalytics', 'loading',
    'network', 'failed', 'search', 'agency', 'group', 'all', 'docTitle', 'chunks', 'ingested', 'status',
    'actions', 'indexed', 'updateFailed', 'showChunks', 'hideChunks', 'delete', 'cancel', 'confirmDelete',
    'deleted', 'nDocs', 'noDocs', 'prev', 'next', 'page', 'section', 'started', 'ended', 'sources', 'added',
    'updated', 'unchanged', 'pruned', 'failures', 'file', 'reason', 'noRuns', 'running', 'interrupted',
    'completed', 'withFailures', 'runFailed', 'run', 'from', 'to', 'show', 'rating', 'up', 'down', 'question',
    'answer', 'citations', 'comment', 'noFeedback', 'refusedAnswer', 'questions', 'refusalRate', 'unanswered',
    'medianLatency', 'p90Latency', 'perDay', 'refusalPerDay', 'languages', 'timesAsked', 'lastAsked', 'date',
    'gapHint', 'noGap', 'undetermined', 'helpful', 'notHelpful', 'nFeedback', 'refused', 'tableOf'];
  const RAW = {
    en: ['Operator console', 'Skip to content', 'Language', 'Admin key', 'Sign in', 'Sign out',
      'The key is kept in this browser tab only and sent with each request.', 'This key was refused.',
      'This key is not an admin key: the console needs the admin scope.', 'Signed in as {n}', 'all agencies',
      'Console sections', 'Documents', 'Ingestion runs', 'Feedback', 'Analytics', 'Loading…',
      'The server could not be reached.', 'The request failed', 'Search', 'Agency', 'Access group', 'All',
      'Title', 'Chunks', 'Ingested', 'Status', 'Actions', 'Indexed', 'Update failed', 'Show chunks',
      'Hide chunks', 'Delete', 'Cancel', 'Delete “{n}” and all its chunks? This cannot be undone.',
      'Deleted {n}.', '{n} documents', 'No document matches.', 'Previous', 'Next', 'Page', 'Section',
      'Started', 'Ended', 'Sources', 'Added', 'Updated', 'Unchanged', 'Removed', 'Failures', 'File', 'Reason',
      'No ingestion run recorded yet.', 'Running', 'Interrupted', 'Completed', 'Completed with failures',
      'Failed', 'Run {n}', 'From', 'To', 'Show', 'Rating', 'Helpful', 'Not helpful', 'Question', 'Answer',
      'Citations', 'Comment', 'No feedback in this period.', 'No answer: refused', 'Questions', 'Refusal rate',
      'Unanswered questions', 'Median latency', '90th percentile latency', 'Questions per day',
      'Refusal rate per day', 'Languages asked', 'Times asked', 'Last asked', 'Date',
      'What people asked that the documents do not answer: the content to publish next.',
      'Every question in this period was answered with citations.', 'undetermined', 'helpful',
      'not helpful', 'Ratings: {n}', 'Refused', 'Table: {n}'],
    ms: ['Konsol operator', 'Langkau ke kandungan', 'Bahasa', 'Kunci pentadbir', 'Log masuk', 'Log keluar',
      'Kunci disimpan dalam tab pelayar ini sahaja dan dihantar bersama setiap permintaan.',
      'Kunci ini ditolak.', 'Kunci ini bukan kunci pentadbir: konsol memerlukan skop admin.',
      'Log masuk sebagai {n}', 'semua agensi', 'Bahagian konsol', 'Dokumen', 'Larian pengingesan',
      'Maklum balas', 'Analitik', 'Memuatkan…', 'Pelayan tidak dapat dihubungi.', 'Permintaan gagal', 'Cari',
      'Agensi', 'Kumpulan akses', 'Semua', 'Tajuk', 'Cebisan', 'Diinges', 'Status', 'Tindakan', 'Diindeks',
      'Kemas kini gagal', 'Tunjuk cebisan', 'Sembunyi cebisan', 'Padam', 'Batal',
      'Padam “{n}” dan semua cebisannya? Tindakan ini tidak boleh dibatalkan.', '{n} dipadam.', '{n} dokumen',
      'Tiada dokumen yang sepadan.', 'Sebelumnya', 'Seterusnya', 'Halaman', 'Bahagian', 'Dimulakan',
      'Tamat', 'Sumber', 'Ditambah', 'Dikemas kini', 'Tidak berubah', 'Dibuang', 'Kegagalan', 'Fail', 'Sebab',
      'Belum ada larian pengingesan direkodkan.', 'Sedang berjalan', 'Terganggu', 'Selesai',
      'Selesai dengan kegagalan', 'Gagal', 'Larian {n}', 'Dari', 'Hingga', 'Tunjuk', 'Penilaian', 'Membantu',
      'Tidak membantu', 'Soalan', 'Jawapan', 'Petikan sumber', 'Ulasan', 'Tiada maklum balas dalam tempoh ini.',
      'Tiada jawapan: ditolak', 'Soalan', 'Kadar penolakan', 'Soalan tidak berjawab', 'Kependaman median',
      'Kependaman persentil ke-90', 'Soalan sehari', 'Kadar penolakan sehari', 'Bahasa yang digunakan',
      'Kali ditanya', 'Terakhir ditanya', 'Tarikh',
      'Perkara yang ditanya tetapi tidak dijawab oleh dokumen: kandungan untuk diterbitkan seterusnya.',
      'Setiap soalan dalam tempoh ini dijawab dengan sumber.', 'tidak ditentukan', 'membantu',
      'tidak membantu', '{n} penilaian', 'Ditolak', 'Jadual: {n}'],
    id: ['Konsol operator', 'Langsung ke konten', 'Bahasa', 'Kunci admin', 'Masuk', 'Keluar',
      'Kunci hanya disimpan di tab peramban ini dan dikirim bersama setiap permintaan.', 'Kunci ini ditolak.',
      'Kunci ini bukan kunci admin: konsol memerlukan cakupan admin.', 'Masuk sebagai {n}', 'semua instansi',
      'Bagian konsol', 'Dokumen', 'Proses ingesti', 'Masukan', 'Analitik', 'Memuat…',
      'Server tidak dapat dihubungi.', 'Permintaan gagal', 'Cari', 'Instansi', 'Grup akses', 'Semua', 'Judul',
      'Potongan', 'Diingesti', 'Status', 'Tindakan', 'Terindeks', 'Pembaruan gagal', 'Tampilkan potongan',
      'Sembunyikan potongan', 'Hapus', 'Batal',
      'Hapus “{n}” beserta semua potongannya? Tindakan ini tidak dapat dibatalkan.', '{n} dihapus.',
      '{n} dokumen', 'Tidak ada dokumen yang cocok.', 'Sebelumnya', 'Berikutnya', 'Halaman', 'Bagian',
      'Dimulai', 'Selesai', 'Sumber', 'Ditambahkan', 'Diperbarui', 'Tidak berubah', 'Dihapus', 'Kegagalan',
      'Berkas', 'Alasan', 'Belum ada proses ingesti yang tercatat.', 'Berjalan', 'Terputus', 'Selesai',
      'Selesai dengan kegagalan', 'Gagal', 'Proses {n}', 'Dari', 'Sampai', 'Tampilkan', 'Penilaian',
      'Membantu', 'Tidak membantu', 'Pertanyaan', 'Jawaban', 'Kutipan', 'Komentar',
      'Tidak ada masukan pada periode ini.', 'Tidak ada jawaban: ditolak', 'Pertanyaan', 'Tingkat penolakan',
      'Pertanyaan tak terjawab', 'Latensi median', 'Latensi persentil ke-90', 'Pertanyaan per hari',
      'Tingkat penolakan per hari', 'Bahasa yang digunakan', 'Kali ditanyakan', 'Terakhir ditanyakan',
      'Tanggal', 'Yang ditanyakan orang tetapi tidak dijawab dokumen: konten yang perlu diterbitkan berikutnya.',
      'Semua pertanyaan pada periode ini dijawab dengan sumber.', 'tidak terdeteksi', 'membantu',
      'tidak membantu', '{n} penilaian', 'Ditolak', 'Tabel: {n}'],
    th: ['คอนโซลผู้ดูแลระบบ', 'ข้ามไปยังเนื้อหา', 'ภาษา', 'คีย์ผู้ดูแลระบบ', 'เข้าสู่ระบบ', 'ออกจากระบบ',
      'คีย์จะถูกเก็บไว้ในแท็บเบราว์เซอร์นี้เท่านั้นและส่งไปกับทุกคำขอ', 'คีย์นี้ถูกปฏิเสธ',
      'คีย์นี้ไม่ใช่คีย์ผู้ดูแลระบบ คอนโซลต้องใช้สิทธิ์ admin', 'เข้าสู่ระบบในชื่อ {n}', 'ทุกหน่วยงาน',
      'ส่วนต่าง ๆ ของคอนโซล', 'เอกสาร', 'รอบการนำเข้า', 'ความคิดเห็น', 'การวิเคราะห์', 'กำลังโหลด…',
      'ไม่สามารถเชื่อมต่อกับเซิร์ฟเวอร์ได้', 'คำขอล้มเหลว', 'ค้นหา', 'หน่วยงาน', 'กลุ่มสิทธิ์การเข้าถึง',
      'ทั้งหมด', 'ชื่อเรื่อง', 'ส่วนย่อย', 'นำเข้าเมื่อ', 'สถานะ', 'การดำเนินการ', 'จัดทำดัชนีแล้ว',
      'อัปเดตไม่สำเร็จ', 'แสดงส่วนย่อย', 'ซ่อนส่วนย่อย', 'ลบ', 'ยกเลิก',
      'ลบ “{n}” และส่วนย่อยทั้งหมดหรือไม่ การลบนี้ย้อนกลับไม่ได้', 'ลบ {n} แล้ว', '{n} เอกสาร',
      'ไม่มีเอกสารที่ตรงกัน', 'ก่อนหน้า', 'ถัดไป', 'หน้า', 'หัวข้อ', 'เริ่มเมื่อ', 'สิ้นสุดเมื่อ',
      'แหล่งที่มา', 'เพิ่ม', 'อัปเดต', 'ไม่เปลี่ยนแปลง', 'นำออก', 'รายการที่ล้มเหลว', 'ไฟล์', 'สาเหตุ',
      'ยังไม่มีการบันทึกรอบการนำเข้า', 'กำลังทำงาน', 'ถูกขัดจังหวะ', 'เสร็จสมบูรณ์',
      'เสร็จแต่มีรายการล้มเหลว', 'ล้มเหลว', 'รอบที่ {n}', 'ตั้งแต่', 'ถึง', 'แสดง', 'การให้คะแนน',
      'มีประโยชน์', 'ไม่มีประโยชน์', 'คำถาม', 'คำตอบ', 'การอ้างอิง', 'ความคิดเห็น',
      'ไม่มีความคิดเห็นในช่วงเวลานี้', 'ไม่มีคำตอบ: ปฏิเสธการตอบ', 'คำถาม', 'อัตราการปฏิเสธ',
      'คำถามที่ไม่ได้รับคำตอบ', 'เวลาตอบสนองมัธยฐาน', 'เวลาตอบสนองเปอร์เซ็นไทล์ที่ 90', 'คำถามต่อวัน',
      'อัตราการปฏิเสธต่อวัน', 'ภาษาที่ใช้ถาม', 'จำนวนครั้งที่ถาม', 'ถามล่าสุด', 'วันที่',
      'สิ่งที่ผู้คนถามแต่เอกสารไม่มีคำตอบ: เนื้อหาที่ควรเผยแพร่ต่อไป',
      'ทุกคำถามในช่วงเวลานี้ได้รับคำตอบพร้อมการอ้างอิง', 'ไม่ทราบ', 'มีประโยชน์', 'ไม่มีประโยชน์',
      '{n} คะแนน', 'ปฏิเสธ', 'ตาราง: {n}'],
    vi: ['Bảng điều khiển quản trị', 'Chuyển đến nội dung', 'Ngôn ngữ', 'Khóa quản trị', 'Đăng nhập',
      'Đăng xuất', 'Khóa chỉ được lưu trong thẻ trình duyệt này và được gửi kèm mỗi yêu cầu.',
      'Khóa này đã bị từ chối.', 'Khóa này không phải khóa quản trị: bảng điều khiển cần quyền admin.',
      'Đăng nhập với tên {n}', 'mọi cơ quan', 'Các mục của bảng điều khiển', 'Tài liệu', 'Các lần nạp dữ liệu',
      'Phản hồi', 'Phân tích', 'Đang tải…', 'Không thể kết nối tới máy chủ.', 'Yêu cầu thất bại', 'Tìm kiếm',
      'Cơ quan', 'Nhóm truy cập', 'Tất cả', 'Tiêu đề', 'Đoạn', 'Đã nạp', 'Trạng thái', 'Thao tác',
      'Đã lập chỉ mục', 'Cập nhật thất bại', 'Xem các đoạn', 'Ẩn các đoạn', 'Xóa', 'Hủy',
      'Xóa “{n}” và mọi đoạn của nó? Không thể hoàn tác.', 'Đã xóa {n}.', '{n} tài liệu',
      'Không có tài liệu phù hợp.', 'Trước', 'Sau', 'Trang', 'Mục', 'Bắt đầu', 'Kết thúc', 'Nguồn',
      'Thêm mới', 'Cập nhật', 'Không đổi', 'Đã gỡ', 'Lỗi', 'Tệp', 'Lý do', 'Chưa có lần nạp dữ liệu nào.',
      'Đang chạy', 'Bị gián đoạn', 'Hoàn tất', 'Hoàn tất, có lỗi', 'Thất bại', 'Lần {n}', 'Từ', 'Đến',
      'Xem', 'Đánh giá', 'Hữu ích', 'Không hữu ích', 'Câu hỏi', 'Câu trả lời', 'Trích dẫn', 'Nhận xét',
      'Không có phản hồi trong khoảng thời gian này.', 'Không có câu trả lời: đã từ chối', 'Câu hỏi',
      'Tỷ lệ từ chối', 'Câu hỏi chưa được trả lời', 'Độ trễ trung vị', 'Độ trễ phân vị 90',
      'Câu hỏi mỗi ngày', 'Tỷ lệ từ chối mỗi ngày', 'Ngôn ngữ được dùng', 'Số lần hỏi', 'Lần hỏi gần nhất',
      'Ngày', 'Những điều người dân hỏi mà tài liệu chưa trả lời: nội dung cần công bố tiếp theo.',
      'Mọi câu hỏi trong khoảng thời gian này đều được trả lời có trích dẫn.', 'không xác định', 'hữu ích',
      'không hữu ích', '{n} đánh giá', 'Từ chối', 'Bảng: {n}'],
    tl: ['Console ng operator', 'Lumaktaw sa nilalaman', 'Wika', 'Admin key', 'Mag-sign in', 'Mag-sign out',
      'Sa tab na ito lang ng browser itinatago ang key at ipinapadala ito sa bawat kahilingan.',
      'Tinanggihan ang key na ito.', 'Hindi admin key ang key na ito: kailangan ng console ang admin scope.',
      'Naka-sign in bilang {n}', 'lahat ng ahensya', 'Mga bahagi ng console', 'Mga dokumento',
      'Mga ingestion run', 'Puna', 'Analytics', 'Naglo-load…', 'Hindi maabot ang server.',
      'Nabigo ang kahilingan', 'Maghanap', 'Ahensya', 'Access group', 'Lahat', 'Pamagat', 'Mga bahagi',
      'Na-ingest', 'Katayuan', 'Mga aksyon', 'Naka-index', 'Nabigo ang update', 'Ipakita ang mga bahagi',
      'Itago ang mga bahagi', 'Burahin', 'Kanselahin',
      'Burahin ang “{n}” at lahat ng bahagi nito? Hindi na ito maibabalik.', 'Nabura ang {n}.',
      '{n} dokumento', 'Walang tugmang dokumento.', 'Nauna', 'Susunod', 'Pahina', 'Seksyon', 'Nagsimula',
      'Natapos', 'Mga pinagmulan', 'Idinagdag', 'Na-update', 'Walang pagbabago', 'Inalis', 'Mga pagkabigo',
      'File', 'Dahilan', 'Wala pang naitalang ingestion run.', 'Tumatakbo', 'Naantala', 'Tapos',
      'Tapos, may mga pagkabigo', 'Nabigo', 'Run {n}', 'Mula', 'Hanggang', 'Ipakita', 'Rating',
      'Nakatulong', 'Hindi nakatulong', 'Tanong', 'Sagot', 'Mga sipi', 'Komento',
      'Walang puna sa panahong ito.', 'Walang sagot: tinanggihan', 'Mga tanong', 'Rate ng pagtanggi',
      'Mga tanong na walang sagot', 'Median na latency', 'Ika-90 percentile na latency',
      'Mga tanong bawat araw', 'Rate ng pagtanggi bawat araw', 'Mga wikang ginamit', 'Ilang beses itinanong',
      'Huling itinanong', 'Petsa',
      'Mga itinanong ng tao na hindi sinasagot ng mga dokumento: ang nilalamang dapat susunod na ilathala.',
      'Nasagot nang may sipi ang bawat tanong sa panahong ito.', 'hindi matukoy', 'nakatulong',
      'hindi nakatulong', '{n} rating', 'Tinanggihan', 'Talahanayan: {n}'],
    ta: ['இயக்குநர் கட்டுப்பாட்டகம்', 'உள்ளடக்கத்துக்குச் செல்', 'மொழி', 'நிர்வாகி விசை', 'உள்நுழை',
      'வெளியேறு', 'விசை இந்த உலாவித் தாவலில் மட்டுமே வைக்கப்பட்டு ஒவ்வொரு கோரிக்கையுடனும் அனுப்பப்படும்.',
      'இந்த விசை நிராகரிக்கப்பட்டது.', 'இது நிர்வாகி விசை அல்ல: கட்டுப்பாட்டகத்துக்கு admin அனுமதி தேவை.',
      '{n} ஆக உள்நுழைந்துள்ளீர்கள்', 'அனைத்து அமைப்புகளும்', 'கட்டுப்பாட்டகப் பிரிவுகள்', 'ஆவணங்கள்',
      'உள்ளீட்டு ஓட்டங்கள்', 'கருத்துகள்', 'பகுப்பாய்வு', 'ஏற்றுகிறது…', 'சேவையகத்தை அணுக முடியவில்லை.',
      'கோரிக்கை தோல்வியடைந்தது', 'தேடு', 'அமைப்பு', 'அணுகல் குழு', 'அனைத்தும்', 'தலைப்பு', 'துண்டுகள்',
      'உள்ளீடு செய்யப்பட்டது', 'நிலை', 'செயல்கள்', 'அட்டவணைப்படுத்தப்பட்டது', 'புதுப்பிப்பு தோல்வி',
      'துண்டுகளைக் காட்டு', 'துண்டுகளை மறை', 'நீக்கு', 'ரத்துசெய்',
      '“{n}” மற்றும் அதன் அனைத்துத் துண்டுகளையும் நீக்கவா? இதைத் திரும்பப் பெற முடியாது.',
      '{n} நீக்கப்பட்டது.', '{n} ஆவணங்கள்', 'பொருந்தும் ஆவணம் இல்லை.', 'முந்தையது', 'அடுத்தது', 'பக்கம்',
      'பிரிவு', 'தொடங்கியது', 'முடிந்தது', 'மூலங்கள்', 'சேர்க்கப்பட்டவை', 'புதுப்பிக்கப்பட்டவை',
      'மாறாதவை', 'அகற்றப்பட்டவை', 'தோல்விகள்', 'கோப்பு', 'காரணம்', 'இதுவரை உள்ளீட்டு ஓட்டம் பதிவாகவில்லை.',
      'இயங்குகிறது', 'இடைநிறுத்தப்பட்டது', 'முடிந்தது', 'தோல்விகளுடன் முடிந்தது', 'தோல்வி', 'ஓட்டம் {n}',
      'இருந்து', 'வரை', 'காட்டு', 'மதிப்பீடு', 'உதவியாக இருந்தது', 'உதவியாக இல்லை', 'கேள்வி', 'பதில்',
      'மேற்கோள்கள்', 'கருத்து', 'இந்தக் காலத்தில் கருத்துகள் இல்லை.', 'பதில் இல்லை: மறுக்கப்பட்டது',
      'கேள்விகள்', 'மறுப்பு விகிதம்', 'பதிலளிக்கப்படாத கேள்விகள்', 'நடுநிலை தாமதம்', '90-ஆம் சதமான தாமதம்',
      'நாள்தோறும் கேள்விகள்', 'நாள்தோறும் மறுப்பு விகிதம்', 'கேட்கப்பட்ட மொழிகள்', 'கேட்ட முறை',
      'கடைசியாகக் கேட்டது', 'தேதி',
      'மக்கள் கேட்டும் ஆவணங்களில் பதில் இல்லாதவை: அடுத்து வெளியிட வேண்டிய உள்ளடக்கம்.',
      'இந்தக் காலத்தின் ஒவ்வொரு கேள்விக்கும் மேற்கோளுடன் பதில் அளிக்கப்பட்டது.', 'கண்டறியப்படவில்லை',
      'உதவியாக இருந்தது', 'உதவியாக இல்லை', '{n} மதிப்பீடுகள்', 'மறுக்கப்பட்டது', 'அட்டவணை: {n}'],
    zh: ['运营控制台', '跳到正文', '语言', '管理员密钥', '登录', '退出',
      '密钥只保存在此浏览器标签页中，并随每个请求发送。', '此密钥被拒绝。', '此密钥不是管理员密钥：控制台需要 admin 权限。',
      '已登录：{n}', '所有机构', '控制台栏目', '文件', '导入记录', '反馈', '统计分析', '正在加载…', '无法连接到服务器。',
      '请求失败', '搜索', '机构', '访问组', '全部', '标题', '分块', '导入时间', '状态', '操作', '已索引', '更新失败',
      '显示分块', '隐藏分块', '删除', '取消', '删除“{n}”及其所有分块？此操作无法撤销。', '已删除 {n}。', '{n} 份文件',
      '没有匹配的文件。', '上一页', '下一页', '页码', '章节', '开始', '结束', '来源', '新增', '更新', '未变', '移除',
      '失败项', '文件', '原因', '尚无导入记录。', '运行中', '已中断', '已完成', '已完成（有失败）', '失败', '第 {n} 次',
      '从', '到', '显示', '评价', '有帮助', '没有帮助', '问题', '回答', '引用', '评论', '此期间没有反馈。',
      '无回答：已拒答', '问题数', '拒答率', '未回答的问题', '延迟中位数', '第 90 百分位延迟', '每日问题数', '每日拒答率',
      '提问语言', '提问次数', '最近提问', '日期', '人们问到但文件无法回答的内容：下一步需要发布的内容。',
      '此期间的每个问题都有带引用的回答。', '未识别', '有帮助', '没有帮助', '{n} 条评价', '已拒答', '表格：{n}'],
    my: ['အော်ပရေတာ ထိန်းချုပ်ခန်း', 'အကြောင်းအရာသို့ ကျော်ရန်', 'ဘာသာစကား', 'စီမံခန့်ခွဲသူ ကီး', 'ဝင်ရန်',
      'ထွက်ရန်', 'ကီးကို ဤဘရောက်ဆာ တဘ်တွင်သာ သိမ်းထားပြီး တောင်းဆိုမှုတိုင်းနှင့် ပို့ပါသည်။',
      'ဤကီးကို ငြင်းပယ်လိုက်ပါသည်။', 'ဤကီးသည် စီမံခန့်ခွဲသူကီး မဟုတ်ပါ- ထိန်းချုပ်ခန်းအတွက် admin ခွင့်ပြုချက် လိုအပ်သည်။',
      '{n} အဖြစ် ဝင်ထားသည်', 'ဌာနအားလုံး', 'ထိန်းချုပ်ခန်း အပိုင်းများ', 'စာရွက်စာတမ်းများ', 'ထည့်သွင်းမှု အကြိမ်များ',
      'အကြံပြုချက်', 'ခွဲခြမ်းစိတ်ဖြာချက်', 'ဖွင့်နေသည်…', 'ဆာဗာသို့ ချိတ်ဆက်၍ မရပါ။', 'တောင်းဆိုမှု မအောင်မြင်ပါ',
      'ရှာရန်', 'ဌာန', 'ဝင်ရောက်ခွင့် အုပ်စု', 'အားလုံး', 'ခေါင်းစဉ်', 'အပိုင်းငယ်များ', 'ထည့်သွင်းချိန်', 'အခြေအနေ',
      'လုပ်ဆောင်ချက်များ', 'အညွှန်းပြုလုပ်ပြီး', 'အပ်ဒိတ် မအောင်မြင်ပါ', 'အပိုင်းငယ်များ ပြရန်',
      'အပိုင်းငယ်များ ဖျောက်ရန်', 'ဖျက်ရန်', 'မလုပ်တော့ပါ',
      '“{n}” နှင့် ၎င်း၏ အပိုင်းငယ်အားလုံးကို ဖျက်မလား။ ပြန်ပြင်၍ မရပါ။', '{n} ကို ဖျက်ပြီးပါပြီ။',
      'စာရွက်စာတမ်း {n} ခု', 'ကိုက်ညီသော စာရွက်စာတမ်း မရှိပါ။', 'ယခင်', 'နောက်', 'စာမျက်နှာ', 'အပိုင်း',
      'စတင်ချိန်', 'ပြီးဆုံးချိန်', 'ရင်းမြစ်များ', 'ထည့်ပြီး', 'အပ်ဒိတ်ပြီး', 'မပြောင်းလဲ', 'ဖယ်ရှားပြီး',
      'မအောင်မြင်မှုများ', 'ဖိုင်', 'အကြောင်းရင်း', 'ထည့်သွင်းမှု မှတ်တမ်း မရှိသေးပါ။', 'လုပ်ဆောင်နေသည်',
      'ကြားဖြတ်ခံရသည်', 'ပြီးဆုံးပြီ', 'မအောင်မြင်မှုများဖြင့် ပြီးဆုံးပြီ', 'မအောင်မြင်ပါ', 'အကြိမ် {n}', 'မှ',
      'ထိ', 'ပြရန်', 'အဆင့်သတ်မှတ်ချက်', 'အထောက်အကူဖြစ်သည်', 'အထောက်အကူမဖြစ်ပါ', 'မေးခွန်း', 'အဖြေ',
      'ကိုးကားချက်များ', 'မှတ်ချက်', 'ဤကာလတွင် အကြံပြုချက် မရှိပါ။', 'အဖြေမရှိ- ငြင်းပယ်ခဲ့သည်', 'မေးခွန်းများ',
      'ငြင်းပယ်နှုန်း', 'အဖြေမရသေးသော မေးခွန်းများ', 'အလယ်ကိန်း ကြာချိန်', '၉၀ ရာခိုင်နှုန်းမြောက် ကြာချိန်',
      'တစ်ရက်လျှင် မေးခွန်းများ', 'တစ်ရက်လျှင် ငြင်းပယ်နှုန်း', 'မေးသော ဘာသာစကားများ', 'မေးသည့် အကြိမ်',
      'နောက်ဆုံး မေးချိန်', 'ရက်စွဲ',
      'လူများမေးသော်လည်း စာရွက်စာတမ်းများတွင် အဖြေမရှိသည်များ- နောက်ထုတ်ပြန်ရမည့် အကြောင်းအရာ။',
      'ဤကာလရှိ မေးခွန်းတိုင်းကို ကိုးကားချက်ဖြင့် ဖြေဆိုခဲ့သည်။', 'မသိရ', 'အထောက်အကူဖြစ်သည်',
      'အထောက်အကူမဖြစ်ပါ', 'အဆင့်သတ်မှတ်ချက် {n} ခု', 'ငြင်းပယ်ခဲ့သည်', 'ဇယား- {n}'],
    km: ['ផ្ទាំងគ្រប់គ្រងប្រតិបត្តិករ', 'រំលងទៅមាតិកា', 'ភាសា', 'កូនសោអ្នកគ្រប់គ្រង', 'ចូល', 'ចាកចេញ',
      'កូនសោត្រូវបានរក្សាទុកតែក្នុងផ្ទាំងកម្មវិធីរុករកនេះ ហើយផ្ញើជាមួយសំណើនីមួយៗ។', 'កូនសោនេះត្រូវបានបដិសេធ។',
      'កូនសោនេះមិនមែនជាកូនសោអ្នកគ្រប់គ្រងទេ៖ ផ្ទាំងគ្រប់គ្រងត្រូវការសិទ្ធិ admin។', 'បានចូលជា {n}',
      'ស្ថាប័នទាំងអស់', 'ផ្នែកនៃផ្ទាំងគ្រប់គ្រង', 'ឯកសារ', 'ការនាំចូលទិន្នន័យ', 'មតិកែលម្អ', 'ការវិភាគ',
      'កំពុងផ្ទុក…', 'មិនអាចភ្ជាប់ទៅម៉ាស៊ីនមេបានទេ។', 'សំណើបរាជ័យ', 'ស្វែងរក', 'ស្ថាប័ន', 'ក្រុមសិទ្ធិចូលប្រើ',
      'ទាំងអស់', 'ចំណងជើង', 'ផ្នែកតូចៗ', 'បាននាំចូល', 'ស្ថានភាព', 'សកម្មភាព', 'បានធ្វើលិបិក្រម',
      'ការធ្វើបច្ចុប្បន្នភាពបរាជ័យ', 'បង្ហាញផ្នែកតូចៗ', 'លាក់ផ្នែកតូចៗ', 'លុប', 'បោះបង់',
      'លុប “{n}” និងផ្នែកតូចៗទាំងអស់របស់វា? មិនអាចត្រឡប់វិញបានទេ។', 'បានលុប {n}។', 'ឯកសារ {n}',
      'គ្មានឯកសារដែលត្រូវគ្នាទេ។', 'មុន', 'បន្ទាប់', 'ទំព័រ', 'ផ្នែក', 'ចាប់ផ្តើម', 'បញ្ចប់', 'ប្រភព', 'បានបន្ថែម',
      'បានធ្វើបច្ចុប្បន្នភាព', 'មិនផ្លាស់ប្តូរ', 'បានដកចេញ', 'ការបរាជ័យ', 'ឯកសារ', 'មូលហេតុ',
      'មិនទាន់មានការនាំចូលដែលបានកត់ត្រាទេ។', 'កំពុងដំណើរការ', 'ត្រូវបានរំខាន', 'បានបញ្ចប់',
      'បានបញ្ចប់ ដោយមានការបរាជ័យ', 'បរាជ័យ', 'លើកទី {n}', 'ពី', 'ដល់', 'បង្ហាញ', 'ការវាយតម្លៃ', 'មានប្រយោជន៍',
      'គ្មានប្រយោជន៍', 'សំណួរ', 'ចម្លើយ', 'ការដកស្រង់', 'មតិ', 'គ្មានមតិកែលម្អក្នុងរយៈពេលនេះទេ។',
      'គ្មានចម្លើយ៖ បានបដិសេធ', 'សំណួរ', 'អត្រាបដិសេធ', 'សំណួរដែលមិនបានឆ្លើយ', 'ពេលរង់ចាំមធ្យម',
      'ពេលរង់ចាំភាគរយទី ៩០', 'សំណួរក្នុងមួយថ្ងៃ', 'អត្រាបដិសេធក្នុងមួយថ្ងៃ', 'ភាសាដែលបានសួរ', 'ចំនួនដងដែលបានសួរ',
      'សួរចុងក្រោយ', 'កាលបរិច្ឆេទ', 'អ្វីដែលមនុស្សសួរ តែឯកសារមិនមានចម្លើយ៖ មាតិកាដែលត្រូវផ្សព្វផ្សាយបន្ទាប់។',
      'សំណួរនីមួយៗក្នុងរយៈពេលនេះ ត្រូវបានឆ្លើយដោយមានការដកស្រង់។', 'មិនស្គាល់', 'មានប្រយោជន៍',
      'គ្មានប្រយោជន៍', 'ការវាយតម្លៃ {n}', 'បានបដិសេធ', 'តារាង៖ {n}'],
    lo: ['ຄອນໂຊນຜູ້ດູແລ', 'ຂ້າມໄປຫາເນື້ອຫາ', 'ພາສາ', 'ກະແຈຜູ້ດູແລ', 'ເຂົ້າສູ່ລະບົບ', 'ອອກຈາກລະບົບ',
      'ກະແຈຖືກເກັບໄວ້ໃນແຖບບຣາວເຊີນີ້ເທົ່ານັ້ນ ແລະ ສົ່ງໄປກັບທຸກຄຳຮ້ອງຂໍ.', 'ກະແຈນີ້ຖືກປະຕິເສດ.',
      'ກະແຈນີ້ບໍ່ແມ່ນກະແຈຜູ້ດູແລ: ຄອນໂຊນຕ້ອງການສິດ admin.', 'ເຂົ້າສູ່ລະບົບເປັນ {n}', 'ທຸກໜ່ວຍງານ',
      'ພາກສ່ວນຂອງຄອນໂຊນ', 'ເອກະສານ', 'ຮອບການນຳເຂົ້າ', 'ຄຳຕິຊົມ', 'ການວິເຄາະ', 'ກຳລັງໂຫຼດ…',
      'ບໍ່ສາມາດເຊື່ອມຕໍ່ກັບເຊີບເວີໄດ້.', 'ຄຳຮ້ອງຂໍລົ້ມເຫຼວ', 'ຄົ້ນຫາ', 'ໜ່ວຍງານ', 'ກຸ່ມສິດເຂົ້າເຖິງ', 'ທັງໝົດ',
      'ຫົວຂໍ້', 'ສ່ວນຍ່ອຍ', 'ນຳເຂົ້າເມື່ອ', 'ສະຖານະ', 'ການດຳເນີນການ', 'ເຮັດດັດຊະນີແລ້ວ', 'ອັບເດດບໍ່ສຳເລັດ',
      'ສະແດງສ່ວນຍ່ອຍ', 'ເຊື່ອງສ່ວນຍ່ອຍ', 'ລຶບ', 'ຍົກເລີກ', 'ລຶບ “{n}” ແລະ ສ່ວນຍ່ອຍທັງໝົດບໍ? ບໍ່ສາມາດຍົກເລີກໄດ້.',
      'ລຶບ {n} ແລ້ວ.', '{n} ເອກະສານ', 'ບໍ່ມີເອກະສານທີ່ກົງກັນ.', 'ກ່ອນໜ້າ', 'ຖັດໄປ', 'ໜ້າ', 'ຫົວຂໍ້',
      'ເລີ່ມເມື່ອ', 'ສິ້ນສຸດເມື່ອ', 'ແຫຼ່ງທີ່ມາ', 'ເພີ່ມ', 'ອັບເດດ', 'ບໍ່ປ່ຽນແປງ', 'ນຳອອກ', 'ລາຍການທີ່ລົ້ມເຫຼວ',
      'ໄຟລ໌', 'ສາເຫດ', 'ຍັງບໍ່ມີການບັນທຶກຮອບການນຳເຂົ້າ.', 'ກຳລັງເຮັດວຽກ', 'ຖືກຂັດຈັງຫວະ', 'ສຳເລັດ',
      'ສຳເລັດແຕ່ມີລາຍການລົ້ມເຫຼວ', 'ລົ້ມເຫຼວ', 'ຮອບທີ {n}', 'ແຕ່', 'ເຖິງ', 'ສະແດງ', 'ການໃຫ້ຄະແນນ', 'ມີປະໂຫຍດ',
      'ບໍ່ມີປະໂຫຍດ', 'ຄຳຖາມ', 'ຄຳຕອບ', 'ການອ້າງອີງ', 'ຄຳເຫັນ', 'ບໍ່ມີຄຳຕິຊົມໃນຊ່ວງເວລານີ້.',
      'ບໍ່ມີຄຳຕອບ: ປະຕິເສດ', 'ຄຳຖາມ', 'ອັດຕາການປະຕິເສດ', 'ຄຳຖາມທີ່ບໍ່ໄດ້ຮັບຄຳຕອບ', 'ເວລາຕອບສະໜອງມັດທະຍົມ',
      'ເວລາຕອບສະໜອງເປີເຊັນໄທລ໌ທີ 90', 'ຄຳຖາມຕໍ່ມື້', 'ອັດຕາການປະຕິເສດຕໍ່ມື້', 'ພາສາທີ່ໃຊ້ຖາມ', 'ຈຳນວນຄັ້ງທີ່ຖາມ',
      'ຖາມລ່າສຸດ', 'ວັນທີ', 'ສິ່ງທີ່ຜູ້ຄົນຖາມແຕ່ເອກະສານບໍ່ມີຄຳຕອບ: ເນື້ອຫາທີ່ຄວນເຜີຍແຜ່ຕໍ່ໄປ.',
      'ທຸກຄຳຖາມໃນຊ່ວງເວລານີ້ໄດ້ຮັບຄຳຕອບພ້ອມການອ້າງອີງ.', 'ບໍ່ຮູ້', 'ມີປະໂຫຍດ', 'ບໍ່ມີປະໂຫຍດ', '{n} ຄະແນນ',
      'ປະຕິເສດ', 'ຕາຕະລາງ: {n}'],
  };
  const STR = {};
  for (const l in RAW) { STR[l] = {}; K.forEach((k, i) => { STR[l][k] = RAW[l][i]; }); }
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
  const stored = (k) => { try { return sessionStorage.getItem(k); } catch (_) { return null; } };
  const store = (k, v) => {
    try { if (v === null) sessionStorage.removeItem(k); else sessionStorage.setItem(k, v); } catch (_) { /* blocked */ }
  };
  let L = pickLang([stored(STORE_LANG), ...(navigator.languages || []), navigator.language]);
  const t = (k, n) => { const s = (STR[L] && STR[L][k]) || STR.en[k] || k; return n === undefined ? s : s.replace('{n}', String(n)); };

  // ---- DOM helpers: text only ever enters as text nodes -------------------------------------------------
  const el = (tag, attrs, kids) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (typeof v === 'function') e.addEventListener(k, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids || []) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  };
  const SVGNS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs, kids) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    for (const c of kids || []) if (c !== null && c !== undefined) e.append(c);
    return e;
  };
  const $ = (id) => document.getElementById(id);
  const num = (v) => new Intl.NumberFormat(L).format(v);
  const pct = (v) => (v === null || v === undefined ? '–' : new Intl.NumberFormat(L, { style: 'percent', maximumFractionDigits: 1 }).format(v));
  const ms = (v) => (v === null || v === undefined ? '–' : num(Math.round(v)) + ' ms');
  const when = (ts) => (ts ? new Intl.DateTimeFormat(L, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ts * 1000)) : '–');
  const day = (iso) => new Intl.DateTimeFormat(L, { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(iso + 'T00:00:00Z'));
  const isoDay = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  const tzOffset = () => -new Date().getTimezoneOffset();

  // ---- state and API --------------------------------------------------------------------------------------
  const S = { key: stored(STORE_KEY), me: null, tab: 'documents', docs: { q: '', agency: '', lang: '', group: '', offset: 0 },
    open: new Set(), period: null, rating: '', loginError: '' };
  const today = new Date();
  S.period = { since: isoDay(new Date(today.getTime() - 29 * 86400000)), until: isoDay(today) };

  class ApiFail extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  const call = async (url, opts) => {
    let res;
    try {
      res = await fetch(url, { ...(opts || {}), headers: { Accept: 'application/json', Authorization: 'Bearer ' + S.key } });
    } catch (_) {
      throw new ApiFail(0, t('network'));
    }
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) {
      const msg = body && body.error && typeof body.error.message === 'string' ? body.error.message : 'HTTP ' + res.status;
      throw new ApiFail(res.status, msg);
    }
    return body;
  };
  const qs = (o) => {
    const p = new URLSearchParams();
    for (const k in o) if (o[k] !== '' && o[k] !== null && o[k] !== undefined) p.set(k, String(o[k]));
    return p.toString();
  };

  // ---- live regions: what is loading, what failed -------------------------------------------------------
  const say = (text) => { const s = $('status'); if (s) s.textContent = text; };
  const fail = (e) => {
    const a = $('alert');
    if (a) a.textContent = e ? t('failed') + ': ' + (e.message || String(e)) : '';
    if (e && e.status === 401) signOut(t('badKey') + ' ' + e.message);
  };
  const load = async (fn) => {
    say(t('loading'));
    fail(null);
    try {
      const done = await fn();
      say(done || '');
    } catch (e) {
      say('');
      fail(e);
    }
  };

  // ---- header and sign-in ------------------------------------------------------------------------------
  const header = () => {
    document.documentElement.lang = L;
    document.title = 'govrag: ' + t('title');
    $('title').textContent = t('title');
    $('skip').textContent = t('skip');
    $('lang-label').textContent = t('language');
    $('signout').textContent = t('signOut');
    $('signout').hidden = !S.me;
    $('who').textContent = S.me ? t('signedIn', S.me.name) + ' · ' + (S.me.agency || t('allAgencies')) : '';
    const sel = $('lang');
    if (!sel.options.length) {
      for (const code in NAMES) sel.append(el('option', { value: code, lang: code }, [NAMES[code]]));
      sel.addEventListener('change', () => { L = sel.value; store(STORE_LANG, L); render(); });
    }
    sel.value = L;
  };

  const signOut = (message) => {
    S.key = null; S.me = null;
    store(STORE_KEY, null);
    S.loginError = message || '';
    render();
  };

  const signIn = async (key) => {
    S.key = key;
    try {
      S.me = await call(API + '/me');
      store(STORE_KEY, key);
      S.loginError = '';
    } catch (e) {
      S.key = null; S.me = null;
      store(STORE_KEY, null);
      S.loginError = e.status === 403 ? t('notAdmin') + ' (' + e.message + ')'
        : e.status === 401 ? t('badKey') + ' ' + e.message : e.message;
    }
    render();
    if (S.me) { const tab = $('tab-' + S.tab); if (tab) tab.focus(); } else { const k = $('key'); if (k) k.focus(); }
  };

  const loginView = () => {
    const input = el('input', { id: 'key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
    const form = el('form', { submit: (e) => { e.preventDefault(); if (input.value.trim()) signIn(input.value.trim()); } }, [
      el('label', { for: 'key' }, [t('keyLabel'), input]),
      el('button', { class: 'btn', type: 'submit' }, [t('signIn')]),
    ]);
    return el('section', { class: 'card login', 'aria-labelledby': 'login-h' }, [
      el('h2', { id: 'login-h' }, [t('signIn')]),
      el('p', { role: 'alert', class: 'alert', id: 'login-error' }, [S.loginError]),
      form,
      el('p', { class: 'note' }, [t('keyHint')]),
    ]);
  };

  // ---- tabs (ARIA tablist: arrow keys, Home, End) --------------------------------------------------------
  const TABS = [['documents', 'tabDocs'], ['runs', 'tabRuns'], ['feedback', 'tabFeedback'], ['analytics', 'tabAnalytics']];
  const tablist = () => {
    const list = el('div', { role: 'tablist', 'aria-label': t('sections'), keydown: (e) => {
      const i = TABS.findIndex(([id]) => id === S.tab);
      const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
      if (j === undefined) return;
      e.preventDefault();
      select(TABS[(j + TABS.length) % TABS.length][0], true);
    } });
    for (const [id, label] of TABS) {
      const on = id === S.tab;
      list.append(el('button', { role: 'tab', type: 'button', id: 'tab-' + id, 'aria-controls': 'panel-' + id,
        'aria-selected': String(on), tabindex: on ? '0' : '-1', click: () => select(id, true) }, [t(label)]));
    }
    return list;
  };
  const select = (id, focus) => {
    S.tab = id;
    render();
    if (focus) $('tab-' + id).focus();
  };

  // ---- documents ------------------------------------------------------------------------------------------
  const options = (values, current, allLabel) => [el('option', { value: '' }, [allLabel]),
    ...values.map((v) => el('option', { value: v, selected: v === current }, [v]))];

  const documentsPanel = (panel) => {
    const d = S.docs;
    const search = el('input', { id: 'doc-q', type: 'search', value: d.q });
    const agency = el('select', { id: 'doc-agency' });
    const lang = el('select', { id: 'doc-lang' });
    const group = el('select', { id: 'doc-group' });
    const apply = () => { d.q = search.value.trim(); d.agency = agency.value; d.lang = lang.value; d.group = group.value; d.offset = 0; fetchDocs(); };
    for (const s of [agency, lang, group]) s.addEventListener('change', apply);
    const form = el('form', { class: 'filters', role: 'search', submit: (e) => { e.preventDefault(); apply(); } }, [
      el('label', { for: 'doc-q' }, [t('search'), search]),
      el('label', { for: 'doc-agency' }, [t('agency'), agency]),
      el('label', { for: 'doc-lang' }, [t('language'), lang]),
      el('label', { for: 'doc-group' }, [t('group'), group]),
      el('button', { class: 'btn', type: 'submit' }, [t('search')]),
    ]);
    const results = el('div', { id: 'doc-results' });
    panel.append(el('h2', { id: 'docs-h' }, [t('tabDocs')]), form, results);

    const fetchDocs = () => load(async () => {
      const body = await call(API + '/documents?' + qs({ q: d.q, agency: d.agency, lang: d.lang, group: d.group, offset: d.offset, limit: PAGE }));
      agency.replaceChildren(...options(body.facets.agencies, d.agency, t('all')));
      lang.replaceChildren(...options(body.facets.languages, d.lang, t('all')));
      group.replaceChildren(...options(body.facets.groups, d.group, t('all')));
      results.replaceChildren(docTable(body));
      return t('nDocs', num(body.total));
    });
    fetchDocs();
    S.refreshDocs = fetchDocs;
  };

  const docTable = (body) => {
    if (!body.documents.length) return el('p', { class: 'note' }, [t('noDocs')]);
    const rows = [];
    for (const doc of body.documents) {
      const failed = doc.status === 'update_failed';
      const open = S.open.has(doc.doc_id);
      const chunksId = 'chunks-' + rows.length;
      rows.push(el('tr', { 'data-doc': doc.doc_id }, [
        el('td', {}, [doc.title || doc.doc_id, el('span', { class: 'id' }, [doc.doc_id])]),
        el('td', { class: 'hide-sm' }, [doc.agency]),
        el('td', {}, [doc.lang]),
        el('td', { class: 'hide-sm' }, [doc.groups.join(', ')]),
        el('td', { class: 'num' }, [num(doc.n_chunks)]),
        el('td', { class: 'hide-sm' }, [when(doc.ingested_at)]),
        el('td', {}, [el('span', { class: 'badge' + (failed ? ' warn' : ''), title: failed && doc.last_failure ? doc.last_failure.reason : null },
          [failed ? t('updateFailed') : t('indexed')]),
        failed && doc.last_failure ? el('span', { class: 'id' }, [doc.last_failure.reason]) : null]),
        el('td', {}, [el('div', { class: 'actions' }, [
          el('button', { class: 'btn quiet', type: 'button', 'aria-expanded': String(open), 'aria-controls': chunksId,
            click: (e) => toggleChunks(doc, e.currentTarget, chunksId) }, [open ? t('hideChunks') : t('showChunks')]),
          el('button', { class: 'btn danger', type: 'button', click: (e) => confirmDelete(doc, e.currentTarget) }, [t('delete')]),
        ])]),
      ]));
      const holder = el('tr', { id: chunksId, hidden: !open }, [el('td', { colspan: '8' }, [])]);
      rows.push(holder);
      if (open) fillChunks(doc, holder);
    }
    const d = S.docs;
    const pager = el('div', { class: 'pager' }, [
      el('button', { class: 'btn quiet', type: 'button', disabled: d.offset === 0,
        click: () => { d.offset = Math.max(0, d.offset - PAGE); S.refreshDocs(); } }, [t('prev')]),
      el('span', {}, [num(d.offset + 1) + '–' + num(d.offset + body.documents.length) + ' / ' + num(body.total)]),
      el('button', { class: 'btn quiet', type: 'button', disabled: d.offset + PAGE >= body.total,
        click: () => { d.offset += PAGE; S.refreshDocs(); } }, [t('next')]),
    ]);
    const head = el('tr', {}, [t('docTitle'), t('agency'), t('language'), t('group'), t('chunks'), t('ingested'), t('status'), t('actions')]
      .map((h, i) => el('th', { scope: 'col', class: [1, 3, 5].includes(i) ? 'hide-sm' : i === 4 ? 'num' : null }, [h])));
    return el('div', {}, [el('div', { class: 'scrollx' }, [el('table', { 'aria-labelledby': 'docs-h' }, [el('thead', {}, [head]), el('tbody', {}, rows)])]), pager]);
  };

  const fillChunks = (doc, holder) => load(async () => {
    const body = await call(DOCS + doc.doc_id.split('/').map(encodeURIComponent).join('/'));
    const list = el('ol', { class: 'chunks', 'aria-label': t('chunks') + ': ' + (doc.title || doc.doc_id) });
    for (const c of body.chunks) {
      const meta = ['#' + c.chunk_no, c.page ? t('page') + ' ' + c.page : null, c.section && c.section.length ? t('section') + ': ' + c.section.join(' › ') : null, c.lang]
        .filter(Boolean).join(' · ');
      list.append(el('li', {}, [el('span', { class: 'meta' }, [meta]), c.text]));
    }
    holder.firstChild.replaceChildren(list);
    return t('chunks') + ': ' + num(body.chunks.length);
  });

  const toggleChunks = (doc, button, id) => {
    const holder = $(id);
    const open = holder.hidden;
    holder.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    button.textContent = open ? t('hideChunks') : t('showChunks');
    if (open) { S.open.add(doc.doc_id); fillChunks(doc, holder); } else S.open.delete(doc.doc_id);
  };

  const confirmDelete = (doc, opener) => {
    const yes = el('button', { class: 'btn danger solid', type: 'button', id: 'confirm-delete' }, [t('delete')]);
    const no = el('button', { class: 'btn quiet', type: 'button' }, [t('cancel')]);
    const dlg = el('dialog', { 'aria-labelledby': 'dlg-text' }, [el('p', { id: 'dlg-text' }, [t('confirmDelete', doc.title || doc.doc_id)]),
      el('div', { class: 'actions' }, [no, yes])]);
    const close = () => { dlg.close(); dlg.remove(); if (opener.isConnected) opener.focus(); };
    no.addEventListener('click', close);
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
    yes.addEventListener('click', () => {
      dlg.close(); dlg.remove();
      load(async () => {
        await call(DOCS + doc.doc_id.split('/').map(encodeURIComponent).join('/'), { method: 'DELETE' });
        S.open.delete(doc.doc_id);
        await S.refreshDocs();
        const h = $('docs-h'); if (h) { h.tabIndex = -1; h.focus(); }
        return t('deleted', doc.title || doc.doc_id);
      });
    });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  };

  // ---- ingestion runs -------------------------------------------------------------------------------------
  const RUN_STATUS = { running: ['running', ''], interrupted: ['interrupted', 'warn'], completed: ['completed', ''],
    completed_with_failures: ['withFailures', 'warn'], failed: ['runFailed', 'bad'] };
  const runsPanel = (panel) => {
    const list = el('div', {});
    panel.append(el('h2', {}, [t('tabRuns')]), list);
    load(async () => {
      const body = await call(API + '/ingest-runs?limit=50');
      if (!body.runs.length) { list.replaceChildren(el('p', { class: 'note' }, [t('noRuns')])); return ''; }
      list.replaceChildren(...body.runs.map((r) => {
        const [label, tone] = RUN_STATUS[r.status] || [r.status, ''];
        const c = r.counts;
        return el('article', { class: 'card run', 'aria-labelledby': 'run-' + r.id }, [
          el('h3', { id: 'run-' + r.id }, [t('run', r.id) + ' ', el('span', { class: 'badge ' + tone }, [t(label)])]),
          el('dl', { class: 'kv' }, [
            el('dt', {}, [t('started')]), el('dd', {}, [when(r.started)]),
            el('dt', {}, [t('ended')]), el('dd', {}, [when(r.ended)]),
            el('dt', {}, [t('sources')]), el('dd', {}, [r.roots.join(', ')]),
            r.agency ? el('dt', {}, [t('agency')]) : null, r.agency ? el('dd', {}, [r.agency]) : null,
            el('dt', {}, [t('tabDocs')]),
            el('dd', {}, [[['added', c.added], ['updated', c.updated], ['unchanged', c.unchanged], ['failed', c.failed], ['pruned', c.pruned]]
              .map(([k, v]) => t(k === 'failed' ? 'runFailed' : k) + ' ' + num(v)).join(' · ')]),
            r.error ? el('dt', {}, [t('reason')]) : null, r.error ? el('dd', { class: 'alert' }, [r.error]) : null,
          ]),
          r.failures.length ? el('table', {}, [
            el('caption', { class: 'sr' }, [t('failures') + ': ' + t('run', r.id)]),
            el('thead', {}, [el('tr', {}, [el('th', { scope: 'col' }, [t('file')]), el('th', { scope: 'col' }, [t('reason')])])]),
            el('tbody', {}, r.failures.map((f) => el('tr', {}, [el('td', {}, [f.source || f.doc_id]), el('td', {}, [f.reason])]))),
          ]) : null,
        ]);
      }));
      return '';
    });
  };

  // ---- period form (feedback, analytics) -----------------------------------------------------------------
  const periodForm = (extra, onApply) => {
    const since = el('input', { type: 'date', id: 'p-since', value: S.period.since, required: true });
    const until = el('input', { type: 'date', id: 'p-until', value: S.period.until, required: true });
    return el('form', { class: 'filters', submit: (e) => { e.preventDefault(); S.period = { since: since.value, until: until.value }; onApply(); } }, [
      el('label', { for: 'p-since' }, [t('from'), since]),
      el('label', { for: 'p-until' }, [t('to'), until]),
      ...(extra || []),
      el('button', { class: 'btn', type: 'submit' }, [t('show')]),
    ]);
  };
  const periodQuery = () => ({ since: S.period.since, until: S.period.until, tz_offset_min: tzOffset() });

  // ---- feedback ---------------------------------------------------------------------------------------
  const feedbackPanel = (panel) => {
    const rating = el('select', { id: 'fb-rating' }, [el('option', { value: '' }, [t('all')]),
      el('option', { value: 'up', selected: S.rating === 'up' }, [t('up')]), el('option', { value: 'down', selected: S.rating === 'down' }, [t('down')])]);
    const list = el('div', {});
    const fetchFb = () => load(async () => {
      S.rating = rating.value;
      const body = await call(API + '/feedback?' + qs({ ...periodQuery(), rating: S.rating, limit: 100 }));
      if (!body.feedback.length) { list.replaceChildren(el('p', { class: 'note' }, [t('noFeedback')])); return t('nFeedback', 0); }
      list.replaceChildren(...body.feedback.map((f) => el('article', { class: 'card fb' }, [
        el('h3', {}, [el('span', { class: 'badge' + (f.rating === 'down' ? ' bad' : '') }, [f.rating === 'up' ? t('up') : t('down')]), ' ', when(f.time)]),
        el('p', { class: 'note' }, [t('question')]),
        el('div', { class: 'msg user', lang: f.language || null }, [f.question]),
        el('p', { class: 'note' }, [t('answer')]),
        el('div', { class: 'msg bot' + (f.refused ? ' refused' : ''), lang: f.language || null }, [f.refused && !f.answer ? t('refusedAnswer') : f.answer]),
        f.citations.length ? el('p', { class: 'note' }, [t('citations')]) : null,
        f.citations.length ? el('ol', { class: 'cites' }, f.citations.map((c) => el('li', {}, [
          '[' + c.n + '] ' + (c.title || c.doc_id) + (c.page ? ' · ' + t('page') + ' ' + c.page : ''),
          c.quote ? el('blockquote', {}, [c.quote]) : null]))) : null,
        f.comment ? el('p', {}, [el('strong', {}, [t('comment') + ': ']), f.comment]) : null,
      ])));
      return t('nFeedback', num(body.total));
    });
    panel.append(el('h2', {}, [t('tabFeedback')]),
      periodForm([el('label', { for: 'fb-rating' }, [t('rating'), rating])], fetchFb), list);
    fetchFb();
  };

  // ---- analytics: inline SVG charts, each with a table for screen readers --------------------------------
  const W = 560, H = 200, PAD = { l: 40, r: 10, t: 10, b: 28 };
  const chartFrame = (maxV, fmtTick) => {
    const g = svg('g', {});
    for (let i = 0; i <= 4; i++) {
      const y = PAD.t + (H - PAD.t - PAD.b) * (1 - i / 4);
      g.append(svg('line', { class: i ? 'grid' : 'axis', x1: PAD.l, x2: W - PAD.r, y1: y, y2: y }));
      g.append(svg('text', { x: PAD.l - 6, y: y + 4, 'text-anchor': 'end' }, [fmtTick((maxV * i) / 4)]));
    }
    return g;
  };
  const xLabels = (days, x) => {
    const g = svg('g', {});
    const every = Math.max(1, Math.ceil(days.length / 8));
    const end = days.length - 1;
    days.forEach((d, i) => {
      // every `every` days and the last day, leaving out a label that would crowd the last one
      if (i === end || (i % every === 0 && end - i > every / 2)) {
        g.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': 'middle' }, [day(d.date)]));
      }
    });
    return g;
  };
  const table = (id, caption, head, rows) => el('table', { class: 'sr', id }, [
    el('caption', {}, [caption]),
    el('thead', {}, [el('tr', {}, head.map((h) => el('th', { scope: 'col' }, [h])))]),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((v, i) => el(i ? 'td' : 'th', i ? {} : { scope: 'row' }, [String(v)]))))),
  ]);
  const figure = (id, title, chart, alt, legend) => el('figure', { class: 'card', 'aria-labelledby': id + '-cap' }, [
    el('figcaption', { id: id + '-cap' }, [title]), chart, legend || null, alt]);

  const dayBars = (a) => {
    const max = Math.max(1, ...a.days.map((d) => d.questions));
    const top = Math.ceil(max / 4) * 4;
    const n = a.days.length, span = (W - PAD.l - PAD.r) / n, bw = Math.max(2, span * 0.7);
    const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / top);
    const x = (i) => PAD.l + span * i + span / 2;
    const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', focusable: 'false' },
      [chartFrame(top, (v) => num(Math.round(v))), xLabels(a.days, x)]);
    a.days.forEach((d, i) => {
      if (!d.questions) return;
      const tip = svg('title', {}, [day(d.date) + ': ' + num(d.questions) + ' ' + t('questions') + ', ' + num(d.refused) + ' ' + t('refused')]);
      chart.append(svg('rect', { class: 'bar', x: x(i) - bw / 2, width: bw, y: y(d.questions), height: y(0) - y(d.questions) }, [tip]));
      if (d.refused) chart.append(svg('rect', { class: 'bar ref', x: x(i) - bw / 2, width: bw, y: y(d.refused), height: y(0) - y(d.refused) }, [tip.cloneNode(true)]));
    });
    const legend = el('div', { class: 'legend', 'aria-hidden': 'true' }, [el('span', {}, [el('i'), t('questions')]), el('span', {}, [el('i', { class: 'ref' }), t('refused')])]);
    const alt = table('tbl-per-day', t('tableOf', t('perDay')), [t('date'), t('questions'), t('refused')],
      a.days.map((d) => [d.date, num(d.questions), num(d.refused)]));
    return figure('chart-per-day', t('perDay'), chart, alt, legend);
  };

  const refusalLine = (a) => {
    const n = a.days.length, span = (W - PAD.l - PAD.r) / n;
    const x = (i) => PAD.l + span * i + span / 2;
    const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v);
    const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', focusable: 'false' },
      [chartFrame(1, (v) => pct(v)), xLabels(a.days, x)]);
    const pts = a.days.map((d, i) => (d.questions ? [x(i), y(d.refused / d.questions), d] : null)).filter(Boolean);
    if (pts.length > 1) chart.append(svg('polyline', { class: 'line', points: pts.map((p) => p[0] + ',' + p[1]).join(' ') }));
    for (const [px, py, d] of pts) {
      chart.append(svg('circle', { class: 'dot', cx: px, cy: py, r: 4 }, [svg('title', {}, [day(d.date) + ': ' + pct(d.refused / d.questions)])]));
    }
    const alt = table('tbl-refusal', t('tableOf', t('refusalPerDay')), [t('date'), t('refusalRate')],
      a.days.filter((d) => d.questions).map((d) => [d.date, pct(d.refused / d.questions)]));
    return figure('chart-refusal', t('refusalPerDay'), chart, alt);
  };

  const languageBars = (a) => {
    const rows = a.languages.slice(0, 12);
    const max = Math.max(1, ...rows.map((r) => r.questions));
    const rowH = 26, h = Math.max(1, rows.length) * rowH + 8, left = 120;
    const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${h}`, 'aria-hidden': 'true', focusable: 'false' });
    const name = (code) => (code ? (NAMES[code] ? NAMES[code] + ' (' + code + ')' : code) : t('undetermined'));
    rows.forEach((r, i) => {
      const w = ((W - left - 60) * r.questions) / max;
      chart.append(svg('text', { x: left - 8, y: i * rowH + 20, 'text-anchor': 'end' }, [name(r.language)]));
      chart.append(svg('rect', { class: 'bar', x: left, y: i * rowH + 6, width: Math.max(2, w), height: rowH - 8 }, [svg('title', {}, [name(r.language) + ': ' + num(r.questions)])]));
      chart.append(svg('text', { x: left + w + 6, y: i * rowH + 20 }, [num(r.questions)]));
    });
    const alt = table('tbl-languages', t('tableOf', t('languages')), [t('language'), t('questions')], rows.map((r) => [name(r.language), num(r.questions)]));
    return figure('chart-languages', t('languages'), chart, alt);
  };

  const analyticsPanel = (panel) => {
    const out = el('div', {});
    const fetchA = () => load(async () => {
      const a = await call(API + '/analytics?' + qs({ ...periodQuery(), top: 50 }));
      const tile = (id, k, v, small) => el('div', { class: 'tile' + (small ? ' small' : ''), id }, [el('span', { class: 'v' }, [v]), el('span', { class: 'k' }, [t(k)])]);
      const gap = a.unanswered_questions.length
        ? el('div', { class: 'scrollx' }, [el('table', { id: 'unanswered' }, [
          el('caption', { class: 'sr' }, [t('unanswered')]),
          el('thead', {}, [el('tr', {}, [t('question'), t('timesAsked'), t('language'), t('lastAsked')].map((h, i) => el('th', { scope: 'col', class: i === 1 ? 'num' : null }, [h])))]),
          el('tbody', {}, a.unanswered_questions.map((u) => el('tr', {}, [
            el('td', { lang: u.language || null }, [u.question]), el('td', { class: 'num' }, [num(u.count)]),
            el('td', {}, [u.language || t('undetermined')]), el('td', {}, [when(u.last_asked)])]))),
        ])])
        : el('p', { class: 'note' }, [t('noGap')]);
      out.replaceChildren(
        el('div', { class: 'tiles' }, [
          tile('m-questions', 'questions', num(a.questions)),
          tile('m-refusal', 'refusalRate', pct(a.refusal_rate)),
          tile('m-unanswered', 'unanswered', num(a.unanswered)),
          tile('m-latency', 'medianLatency', ms(a.latency_median_ms)),
          tile('m-p90', 'p90Latency', ms(a.latency_p90_ms)),
          tile('m-feedback', 'tabFeedback', num(a.feedback_up) + ' ' + t('helpful') + ' · ' + num(a.feedback_down) + ' ' + t('notHelpful'), true),
        ]),
        el('div', { class: 'charts' }, [dayBars(a), refusalLine(a), languageBars(a)]),
        el('section', { class: 'card', 'aria-labelledby': 'gap-h' }, [el('h3', { id: 'gap-h' }, [t('unanswered')]),
          el('p', { class: 'note' }, [t('gapHint')]), gap]),
      );
      return t('questions') + ': ' + num(a.questions) + ', ' + t('refusalRate') + ': ' + pct(a.refusal_rate);
    });
    panel.append(el('h2', {}, [t('tabAnalytics')]), periodForm([], fetchA), out);
    fetchA();
  };

  // ---- page --------------------------------------------------------------------------------------------
  const PANELS = { documents: documentsPanel, runs: runsPanel, feedback: feedbackPanel, analytics: analyticsPanel };
  const render = () => {
    header();
    const main = $('main');
    main.replaceChildren();
    if (!S.me) { main.append(loginView()); return; }
    const panel = el('section', { role: 'tabpanel', id: 'panel-' + S.tab, 'aria-labelledby': 'tab-' + S.tab, tabindex: '0' });
    main.append(tablist(), el('div', { class: 'status', id: 'status', role: 'status', 'aria-live': 'polite' }),
      el('div', { class: 'alert', id: 'alert', role: 'alert' }), panel);
    PANELS[S.tab](panel);
  };

  const start = () => {
    $('signout').addEventListener('click', () => signOut(''));
    if (S.key) signIn(S.key); else render();
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
