-- Sample "land" source database (cadastral records of Can Tho, pre-reform
-- unit codes).  Table and column names are fixed: policies/routing.json and
-- the C code refer to them.  Unit columns are nullable on purpose (bad rows
-- must reach the quarantine), hence REPLICA IDENTITY FULL everywhere.
-- Only primary keys are indexed; the benchmark adds the unit index itself.

-- map sheet (tờ bản đồ địa chính)
CREATE TABLE to_ban_do (
    id            bigint PRIMARY KEY,
    ma_dvhc_xa    varchar(5),
    so_to         integer NOT NULL,
    ty_le         integer NOT NULL,          -- scale denominator, 1:ty_le
    dien_tich_ha  numeric(10,2)
);

-- land parcel (thửa đất)
CREATE TABLE thua_dat (
    id                bigint PRIMARY KEY,
    ma_dvhc_xa        varchar(5),
    so_to             integer NOT NULL,
    so_thua           integer NOT NULL,
    dien_tich         numeric(12,1) NOT NULL,  -- m²
    dien_tich_phap_ly numeric(12,1),
    dia_chi           text,
    ma_dvhc_cu        varchar(5),              -- numbering before re-survey
    so_to_cu          integer,
    so_thua_cu        integer,
    trang_thai        smallint NOT NULL,
    phien_ban         integer NOT NULL,
    ban_quet          bytea                    -- scanned document
);
-- scans are already compressed images: store them out of line, uncompressed
ALTER TABLE thua_dat ALTER COLUMN ban_quet SET STORAGE EXTERNAL;

-- land use purpose (mục đích sử dụng); thoi_han NULL = long-term (lâu dài)
CREATE TABLE muc_dich_su_dung (
    id           bigint PRIMARY KEY,
    thua_dat_id  bigint NOT NULL,
    ma_dvhc_xa   varchar(5),
    so_to        integer NOT NULL,
    ma_loai_dat  varchar(3) NOT NULL,
    dien_tich    numeric(12,1) NOT NULL,
    thoi_han     date,
    nguon_goc    text
);

-- land user (người sử dụng đất)
CREATE TABLE nguoi_su_dung (
    id             bigint PRIMARY KEY,
    thua_dat_id    bigint NOT NULL,
    ma_dvhc_xa     varchar(5),
    so_to          integer NOT NULL,
    loai           varchar(3) NOT NULL,   -- CN, HGD, VC (couple), TC (organisation)
    ho_ten         text NOT NULL,
    nam_sinh       integer,
    so_dinh_danh   varchar(12),
    dia_chi        text,
    so_dien_thoai  varchar(10)
);

-- land-use right certificate (giấy chứng nhận QSDĐ)
CREATE TABLE giay_chung_nhan (
    id            bigint PRIMARY KEY,
    thua_dat_id   bigint NOT NULL,
    ma_dvhc_xa    varchar(5),
    so_to         integer NOT NULL,
    so_phat_hanh  text NOT NULL,          -- serial on the form, "BU 035181"
    so_vao_so     text NOT NULL,          -- register number, "CH 01950"
    ngay_cap      date,
    co_quan_cap   text,
    nguoi_ky      text,
    trang_thai    smallint NOT NULL
);

ALTER TABLE to_ban_do        REPLICA IDENTITY FULL;
ALTER TABLE thua_dat         REPLICA IDENTITY FULL;
ALTER TABLE muc_dich_su_dung REPLICA IDENTITY FULL;
ALTER TABLE nguoi_su_dung    REPLICA IDENTITY FULL;
ALTER TABLE giay_chung_nhan  REPLICA IDENTITY FULL;
