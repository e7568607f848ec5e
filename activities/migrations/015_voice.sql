-- A person may be reached by a phone call (issue 26): the voice channel's address is a phone number.
ALTER TABLE person_contacts DROP CONSTRAINT person_contacts_channel_check;
ALTER TABLE person_contacts ADD CONSTRAINT person_contacts_channel_check
    CHECK (channel IN ('email', 'sms', 'voice', 'wecom', 'dingtalk', 'feishu'));
